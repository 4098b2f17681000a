/**
 * `@strongroom/protocol/lite`: the parts of the protocol that need no schema library, for code
 * that must start fast (the offline client opens a cache in well under a second; importing the
 * schemas costs about half a second at start). Types can still come from the main entry with
 * `import type`, which costs nothing at run time.
 */
export * from './password-rules.js';
export { OFFLINE_LIMITS, OFFLINE_PACKAGE_FORMAT } from './offline-format.js';
export { UUID_PATTERN } from './ids.js';
