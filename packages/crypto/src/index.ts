export * from './secret.js';
export * from './envelope.js';
export * from './keyring.js';
export * from './passwords.js';
export * from './tokens.js';
export * from './totp.js';
export * from './open-pool.js';
export * from './generator.js';
