import { describe, expect, it } from 'vitest';
import { calibrateKdf, kdfProblem } from './index.js';
import type { Argon2idFn, KdfParams } from './env.js';

/** A host whose Argon2 "takes" fixed + perPass·t milliseconds on a fake clock. */
function fakeHost(fixed: number, perPass: number) {
  let clock = 0;
  const seen: KdfParams[] = [];
  const argon2id: Argon2idFn = async (_p, _s, p) => {
    seen.push({ memoryKiB: p.memoryKiB, iterations: p.iterations, parallelism: p.parallelism });
    clock += fixed + perPass * p.iterations;
    return new Uint8Array(p.length);
  };
  const env = { argon2id, now: () => new Date(), randomBytes: (n: number) => new Uint8Array(n) };
  return { env, seen, now: () => clock };
}

describe('calibrateKdf', () => {
  it('picks the passes that take the target time, at 64 MiB and one lane', async () => {
    const h = fakeHost(200, 40); // 7.5 passes for 500 ms
    expect(await calibrateKdf(h.env, 500, h.now)).toEqual({
      memoryKiB: 65536,
      iterations: 8,
      parallelism: 1,
    });
    expect(h.seen.every((p) => p.memoryKiB === 65536 && p.parallelism === 1)).toBe(true);
    const slow = fakeHost(100, 100);
    expect((await calibrateKdf(slow.env, 1000, slow.now)).iterations).toBe(9);
  });

  it('never goes below 2 passes nor above 100', async () => {
    const slow = fakeHost(600, 300);
    expect((await calibrateKdf(slow.env, 500, slow.now)).iterations).toBe(2);
    const fast = fakeHost(1, 1);
    expect((await calibrateKdf(fast.env, 500, fast.now)).iterations).toBe(100);
  });

  it('returns parameters the library accepts', async () => {
    const h = fakeHost(200, 40);
    expect(kdfProblem(await calibrateKdf(h.env, 500, h.now))).toBeNull();
  });
});
