/**
 * Benchmark child: a package received (JSON text, parsed here as a client would) → cache file
 * on disk (build, write to a temporary file, flush, rename). Prints the build time and its peak
 * resident size on standard error as JSON.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import type { OfflinePackage } from '@strongroom/protocol';
import { buildCache, parseKeyFileXml, type KdfParams } from '../index.js';
import { nodeOfflineEnv } from '../node.js';

const [packageFile, keyFile, out, kdfJson] = process.argv.slice(2);
const password = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
const pkg = JSON.parse(readFileSync(packageFile!, 'utf8')) as OfflinePackage;
const machineKey = parseKeyFileXml(readFileSync(keyFile!, 'utf8'))!;
const kdf = JSON.parse(kdfJson!) as KdfParams;

const t0 = performance.now();
const bytes = await buildCache(nodeOfflineEnv(), pkg, {
  serverUrl: 'https://vault.corp.example',
  cachePassword: password,
  machineKey,
  kdf,
});
const tmp = `${out}.tmp`;
const fd = openSync(tmp, 'w', 0o600);
writeSync(fd, bytes);
fsyncSync(fd);
closeSync(fd);
renameSync(tmp, out!);
const buildMs = performance.now() - t0;
process.stderr.write(
  JSON.stringify({
    buildMs,
    bytes: bytes.length,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
  }) + '\n',
);
