import { parentPort, workerData } from 'node:worker_threads';
import { openWithKeyring } from './envelope.js';

/**
 * Worker thread of `OpenPool`: opens batches of envelopes with the data keys it was started
 * with, so a bulk export decrypts off the main thread. Runs the same `openWithKeyring` as the
 * main thread. Answers `{ id, results }` or `{ id, error }` (the message only, never a secret).
 */
const keys = new Map<string, Buffer>(
  (workerData as { keys: Array<[string, Uint8Array]> }).keys.map(([id, k]) => [id, Buffer.from(k)]),
);

interface Batch {
  id: number;
  envelopes: Uint8Array[];
  contexts: string[];
}

parentPort!.on('message', (batch: Batch) => {
  try {
    const results = batch.envelopes.map((e, i) =>
      openWithKeyring(e, batch.contexts[i]!, (id) => keys.get(id)),
    );
    parentPort!.postMessage({ id: batch.id, results });
  } catch (err) {
    parentPort!.postMessage({ id: batch.id, error: (err as Error).message });
  }
});
