import { MIN_KDF_MEMORY_KIB, type KdfParams, type OfflineEnv } from './env.js';

/** Bounds on what this library writes and opens (a hostile header must not exhaust the host). */
export const KDF_LIMITS = {
  minMemoryKiB: MIN_KDF_MEMORY_KIB,
  maxMemoryKiB: 4 * 1024 * 1024,
  maxIterations: 10_000,
  maxParallelism: 16,
} as const;

/** A reason the parameters are refused, or null. */
export function kdfProblem(p: KdfParams): string | null {
  const int = (n: number) => Number.isSafeInteger(n);
  if (!int(p.memoryKiB) || p.memoryKiB < KDF_LIMITS.minMemoryKiB) {
    return `Argon2 memory must be at least ${KDF_LIMITS.minMemoryKiB} KiB (64 MiB).`;
  }
  if (p.memoryKiB > KDF_LIMITS.maxMemoryKiB) return 'Argon2 memory is above 4 GiB.';
  if (!int(p.iterations) || p.iterations < 1 || p.iterations > KDF_LIMITS.maxIterations) {
    return `Argon2 iterations must be between 1 and ${KDF_LIMITS.maxIterations}.`;
  }
  if (!int(p.parallelism) || p.parallelism < 1 || p.parallelism > KDF_LIMITS.maxParallelism) {
    return `Argon2 parallelism must be between 1 and ${KDF_LIMITS.maxParallelism}.`;
  }
  return null;
}

export function assertKdf(p: KdfParams): void {
  const problem = kdfProblem(p);
  if (problem) throw new RangeError(problem);
}

const now = () => globalThis.performance.now();

/**
 * Argon2id parameters for this machine: 64 MiB, one lane, and as many passes as take about
 * `targetMs` (at least 2). One lane because the Argon2 we run computes lanes one after another,
 * so more lanes would only make KeePassXC (which runs them in parallel) faster than us at
 * opening the same file, without costing an attacker more (decision 39). Measures
 * T(t) = a + b·t at t = 1 and t = 5, best of two, after one warm-up run.
 */
export async function calibrateKdf(env: OfflineEnv, targetMs = 500): Promise<KdfParams> {
  const memoryKiB = KDF_LIMITS.minMemoryKiB;
  const password = env.randomBytes(32);
  const salt = env.randomBytes(32);
  const time = async (iterations: number) => {
    const t0 = now();
    await env.argon2id(password, salt, { memoryKiB, iterations, parallelism: 1, length: 32 });
    return now() - t0;
  };
  await time(1);
  const t1 = Math.min(await time(1), await time(1));
  const t5 = Math.min(await time(5), await time(5));
  const perPass = (t5 - t1) / 4;
  const fixed = t1 - perPass;
  let iterations =
    perPass > 0 ? Math.round((targetMs - fixed) / perPass) : Math.round(targetMs / t1);
  if (!Number.isFinite(iterations)) iterations = 2;
  iterations = Math.min(Math.max(iterations, 2), 100);
  return { memoryKiB, iterations, parallelism: 1 };
}
