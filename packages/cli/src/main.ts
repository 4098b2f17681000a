import { run } from './cli.js';
import { processIo } from './io.js';
import { createOfflineAccess } from './offline/access.js';

/** The `strongroom` command (bin/strongroom.js imports this). */
const code = await run(process.argv.slice(2), process.env, processIo(), createOfflineAccess);

// Exit as soon as the output is written rather than when the event loop drains: nothing is left
// to do (a clipboard clearer runs as its own detached process), and tearing down the heap of a
// large cache would only make the user wait.
const flushed = (stream: NodeJS.WriteStream) =>
  new Promise<void>((resolve) => stream.write('', () => resolve()));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
