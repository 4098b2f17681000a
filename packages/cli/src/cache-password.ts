import { checkPasswordRequirements } from '@strongroom/protocol/lite';
import type { LoginResponse, PasswordRequirements } from '@strongroom/protocol';
import type { Ctx } from './context.js';
import { CliError } from './errors.js';
import { ApiError } from './http.js';
import type { Secrets } from './secrets.js';
import type { Session } from './state.js';

/**
 * Choosing the password of a new offline cache (offline-mode §1.4): by default the password the
 * user logs in with; it must satisfy the user's policy password requirements, and when it does
 * not the user is asked again with the failing rule named.
 */

function check(password: string, req: PasswordRequirements): string | null {
  const r = checkPasswordRequirements(password, req);
  return r.ok ? null : r.message;
}

/**
 * Whether `password` is the user's login password, asked of the server with a login attempt:
 * success (the new session is ended at once) or "two-factor code required" both mean it is.
 * A wrong password counts as a failed login, like any other.
 */
async function isLoginPassword(ctx: Ctx, session: Session, password: string): Promise<boolean> {
  const api = ctx.api(session.serverUrl);
  try {
    const r = await api.post<LoginResponse>('/auth/login', {
      loginName: session.loginName,
      password,
      client: 'api',
    });
    await ctx
      .api(session.serverUrl, r.token)
      .post('/auth/logout')
      .catch(() => undefined);
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.code === 'two_factor_required') return true;
    if (err instanceof ApiError && err.code === 'invalid_credentials') return false;
    throw err;
  }
}

export async function chooseCachePassword(
  ctx: Ctx,
  secrets: Secrets,
  o: {
    requirements: PasswordRequirements;
    /** The login password when this command already has it (connect); else null. */
    loginPassword: string | null;
    session: Session;
  },
): Promise<string> {
  const rejected = (message: string) =>
    new CliError(
      'cache_password_rejected',
      `the cache password does not meet the password requirements: ${message}`,
    );

  const given = await secrets.given('cachePassword');
  if (given !== null) {
    const bad = check(given, o.requirements);
    if (bad) throw rejected(bad);
    return given;
  }

  let loginPassword = o.loginPassword;
  if (!secrets.interactive) {
    if (loginPassword === null) {
      const l = await secrets.given('password');
      if (l === null) {
        throw new CliError(
          'input_needed',
          'the cache password is needed: give it with --cache-password-stdin or in STRONGROOM_CACHE_PASSWORD (or give your login password with --password-stdin or STRONGROOM_PASSWORD to use it)',
        );
      }
      if (!(await isLoginPassword(ctx, o.session, l))) {
        throw new CliError('invalid_credentials', 'the login password given is wrong');
      }
      loginPassword = l;
    }
    const bad = check(loginPassword, o.requirements);
    if (bad)
      throw rejected(`${bad} (your login password cannot be the cache password; choose one)`);
    return loginPassword;
  }

  for (;;) {
    const typed = await ctx.io.promptHidden(
      'Cache password (Enter: the same as your login password): ',
    );
    let candidate: string;
    if (typed === '') {
      if (loginPassword === null) {
        const l = await ctx.io.promptHidden(`Login password of ${o.session.loginName}: `);
        if (!(await isLoginPassword(ctx, o.session, l))) {
          ctx.io.notice('that is not your login password');
          continue;
        }
        loginPassword = l;
      }
      candidate = loginPassword;
    } else {
      const again = await ctx.io.promptHidden('Repeat the cache password: ');
      if (again !== typed) {
        ctx.io.notice('the two passwords differ; try again');
        continue;
      }
      candidate = typed;
    }
    const bad = check(candidate, o.requirements);
    if (!bad) return candidate;
    ctx.io.notice(`${bad} Choose another cache password.`);
  }
}
