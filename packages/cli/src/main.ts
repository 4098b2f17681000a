import { run } from './cli.js';
import { processIo } from './io.js';
import { createOfflineAccess } from './offline/access.js';

/** The `strongroom` command (bin/strongroom.js imports this). */
process.exitCode = await run(process.argv.slice(2), process.env, processIo(), createOfflineAccess);
