// The `strongroom` command as one file (decision 57): the compiled client and the workspace
// packages it uses, bundled so that starting the command reads one module instead of some forty.
// `npm run build` runs it after tsc; bin/strongroom.js imports the result. The native Argon2
// binding stays an ordinary dependency.
import { defineConfig } from 'rolldown';

export default defineConfig({
  input: 'packages/cli/dist/main.js',
  platform: 'node',
  external: ['@node-rs/argon2'],
  output: {
    // In dist/, beside the compiled files it replaces: `import.meta.url` then resolves
    // ../package.json and the clipboard helper (dist/clipboard-clear.js) as the unbundled client does.
    file: 'packages/cli/dist/strongroom.mjs',
    format: 'esm',
  },
  logLevel: 'warn',
});
