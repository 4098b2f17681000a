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
    files: ['packages/crypto/src/**', '**/*.test.ts', 'packages/server/src/test-support/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
);
