/**
 * `Algorithm.Argon2id` and `Version.V0x13` of `@node-rs/argon2`: ambient const enums, so written
 * as their values. Internal to this package (not re-exported by the index).
 */
export const ARGON2ID = 2;
export const V0X13 = 1;
