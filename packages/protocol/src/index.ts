export * from './errors.js';
export * from './ids.js';
export * from './permissions.js';
export * from './password-rules.js';
export * from './access.js';
export * from './audit.js';
export * from './users.js';
export * from './vault.js';
