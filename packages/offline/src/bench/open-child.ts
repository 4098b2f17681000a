/**
 * Benchmark child: what a user waits for when listing an offline cache — start Node, load the
 * library, read the cache and the key file, open it (Argon2id, decrypt, parse) and print every
 * entry's path, as `ls -R` would, then exit. The password comes on standard input. Prints its
 * peak resident size on standard error as JSON.
 */
import { readFileSync } from 'node:fs';
import { openCache, parseKeyFileXml } from '../index.js';
import { nodeOfflineEnv } from '../node.js';

const [cacheFile, keyFile] = process.argv.slice(2);
const password = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
const machineKey = parseKeyFileXml(readFileSync(keyFile!, 'utf8'));
if (!machineKey) throw new Error('bad key file');
const opened = await openCache(nodeOfflineEnv(), new Uint8Array(readFileSync(cacheFile!)), {
  cachePassword: password,
  machineKey,
});
const lines: string[] = [];
for (const f of opened.folders) lines.push(f.path + '/');
for (const e of opened.entries) lines.push(e.path);
process.stdout.write(lines.join('\n') + '\n');
process.stderr.write(JSON.stringify({ maxRssMB: process.resourceUsage().maxRSS / 1024 }) + '\n');
// As a command-line client does once its output is written (pipes and files are written
// synchronously on Linux): do not wait for Node's teardown.
process.exit(0);
