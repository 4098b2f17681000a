import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'data/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'node:crypto',
              message: 'Use @strongroom/crypto: it is the only module that touches node:crypto.',
            },
            { name: 'crypto', message: 'Use @strongroom/crypto.' },
            { name: '@node-rs/argon2', message: 'Use @strongroom/crypto.' },
          ],
        },
      ],
    },
  },
  {
    // The offline library also runs in browsers: its core imports no Node module (the host
    // passes storage, Argon2, clock and randomness). Its benchmark and tests run on Node.
    files: ['packages/offline/src/**/*.ts'],
    ignores: ['packages/offline/src/bench/**', '**/*.test.ts', '**/*.support.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: '@strongroom/crypto', message: 'The offline core is isomorphic: inject it.' },
            { name: '@node-rs/argon2', message: 'The offline core is isomorphic: inject it.' },
          ],
          patterns: [
            {
              group: ['node:*', 'crypto', 'fs', 'path', 'os', 'buffer', 'stream', 'zlib', 'util'],
              message: 'The offline core is isomorphic: no Node modules (the host injects them).',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'Buffer', message: 'The offline core is isomorphic: use Uint8Array.' },
        { name: 'process', message: 'The offline core is isomorphic.' },
      ],
    },
  },
  {
    files: [
      'packages/crypto/src/**',
      '**/*.test.ts',
      'packages/offline/src/**/*.support.ts',
      'packages/server/src/test-support/**',
    ],
    rules: { 'no-restricted-imports': 'off' },
  },
);
