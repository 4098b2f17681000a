import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { EnvelopeError } from './envelope.js';

/** One envelope to open and the context it was sealed for. */
export interface OpenRequest {
  envelope: Uint8Array;
  context: string;
}

/**
 * The compiled worker. From `src/` (tests) and from `dist/` alike this is the package's
 * `dist/open-worker.js`; when it has not been built, the pool is unavailable and callers open on
 * the main thread.
 */
const WORKER_FILE = fileURLToPath(new URL('../dist/open-worker.js', import.meta.url));

interface Pending {
  resolve: (value: Buffer[]) => void;
  reject: (err: Error) => void;
}

/**
 * A worker thread that opens envelopes in batches, so a bulk export (the offline package opens
 * tens of thousands) decrypts while the main thread reads and writes the database. The worker
 * holds copies of the data keys; it is unreferenced (it never keeps the process alive) and
 * started only when first needed.
 */
export class OpenPool {
  #worker: Worker | undefined;
  #next = 0;
  readonly #pending = new Map<number, Pending>();

  constructor(private readonly keys: ReadonlyMap<string, Buffer>) {}

  static available(): boolean {
    return existsSync(WORKER_FILE);
  }

  open(items: readonly OpenRequest[]): Promise<Buffer[]> {
    const worker = this.start();
    const id = this.#next++;
    return new Promise<Buffer[]>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({
        id,
        envelopes: items.map((i) => i.envelope),
        contexts: items.map((i) => i.context),
      });
    });
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker) await worker.terminate();
  }

  private start(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(WORKER_FILE, {
      workerData: { keys: [...this.keys].map(([id, k]) => [id, new Uint8Array(k)]) },
    });
    worker.unref();
    worker.on('message', (msg: { id: number; results?: Uint8Array[]; error?: string }) => {
      const p = this.#pending.get(msg.id);
      if (!p) return;
      this.#pending.delete(msg.id);
      if (this.#pending.size === 0) worker.unref();
      if (msg.error !== undefined) p.reject(new EnvelopeError(msg.error));
      else p.resolve(msg.results!.map((u) => Buffer.from(u.buffer, u.byteOffset, u.byteLength)));
    });
    const fail = (err: Error) => {
      if (this.#worker === worker) this.#worker = undefined;
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (this.#pending.size > 0) fail(new EnvelopeError(`open worker exited (${code})`));
      else if (this.#worker === worker) this.#worker = undefined;
    });
    this.#worker = worker;
    return worker;
  }
}
