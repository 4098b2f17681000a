import { hash, verify } from '@node-rs/argon2';
import { ARGON2ID } from './argon2-ids.js';

/** Argon2id parameters. memoryCost is in KiB. */
export interface PasswordHashParams {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** Defaults for login passwords: 64 MiB, 3 passes, 1 lane (OWASP's second recommended profile). */
export const DEFAULT_PASSWORD_HASH_PARAMS: PasswordHashParams = {
  memoryCost: 65536,
  timeCost: 3,
  parallelism: 1,
};

/** Hashes a login password with Argon2id; the PHC string carries its own parameters and salt. */
export function hashPassword(password: string, params: PasswordHashParams): Promise<string> {
  return hash(password, { algorithm: ARGON2ID, ...params, outputLen: 32 });
}

/** Parses the parameters stored in a PHC string, or null if it is not an Argon2id hash. */
export function passwordHashParams(phc: string): PasswordHashParams | null {
  const m = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(phc);
  if (!m) return null;
  return { memoryCost: Number(m[1]), timeCost: Number(m[2]), parallelism: Number(m[3]) };
}

export interface PasswordCheck {
  ok: boolean;
  /** True when the hash was made with weaker parameters than `params`: hash again at login. */
  needsRehash: boolean;
}

export async function verifyPassword(
  phc: string,
  password: string,
  params: PasswordHashParams,
): Promise<PasswordCheck> {
  const stored = passwordHashParams(phc);
  if (!stored) return { ok: false, needsRehash: false };
  let ok = false;
  try {
    ok = await verify(phc, password);
  } catch {
    ok = false;
  }
  const needsRehash =
    ok &&
    (stored.memoryCost < params.memoryCost ||
      stored.timeCost < params.timeCost ||
      stored.parallelism !== params.parallelism);
  return { ok, needsRehash };
}

let dummyHash: Promise<string> | undefined;

/**
 * Spends the same work as a real verification, for logins of unknown users, so response time
 * does not tell whether a login name exists.
 */
export async function burnPasswordCheck(
  password: string,
  params: PasswordHashParams,
): Promise<void> {
  dummyHash ??= hashPassword('strongroom-dummy-password', params);
  await verifyPassword(await dummyHash, password, params);
}
