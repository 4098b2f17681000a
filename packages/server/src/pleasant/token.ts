import { LOGIN_NAME_MAX, PASSWORD_MAX } from '@strongroom/protocol';
import type { AuthService } from '../users/auth-service.js';
import type { Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import { isObject, member } from './wire.js';

/**
 * `/OAuth2/Token` (GET or POST): the resource-owner password grant as Pleasant clients send it,
 * answered by our own login (`AuthService.login`: the same rate limits, lockout, two-factor
 * check and audit records as the native login). A token is an ordinary API session
 * (`client: "api"`), living as long as the user's policy says for API tokens.
 */

/** The provider id sent with `X-Pleasant-OTP-Provider` for TOTP authenticator apps. */
export const OTP_PROVIDER = 'authenticator-app';
/** A provider id clients may send back to say the code is a recovery code. */
export const RECOVERY_PROVIDER = 'recovery-code';

export interface TokenAnswer {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

const tokenError = (
  status: number,
  error: string,
  description: string,
  headers: Record<string, string> = {},
): TokenAnswer => ({ status, body: { error, error_description: description }, headers });

/**
 * The token request's parameters: the body as a form whatever its Content-Type says (clients
 * label forms as JSON), a JSON object if the body is one, and otherwise the query string.
 * Parameter names are matched in any case.
 */
export function tokenParameters(body: string, query: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const put = (k: string, v: unknown) => {
    if (typeof v === 'string' && out[k.toLowerCase()] === undefined) out[k.toLowerCase()] = v;
  };
  const text = body.replace(/^\uFEFF/, '').trim();
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (isObject(parsed)) {
      for (const name of ['grant_type', 'username', 'password']) put(name, member(parsed, name));
      return out;
    }
  }
  if (text !== '') {
    for (const [k, v] of new URLSearchParams(text)) put(k, v);
    return out;
  }
  for (const [k, v] of new URLSearchParams(query)) put(k, v);
  return out;
}

export async function issueToken(
  auth: AuthService,
  clock: Clock,
  params: Record<string, string>,
  headers: { otp: string | undefined; provider: string | undefined },
  ip: string,
): Promise<TokenAnswer> {
  const grantType = params.grant_type;
  if (grantType === undefined) {
    return tokenError(400, 'invalid_request', 'grant_type is required (grant_type=password).');
  }
  if (grantType.toLowerCase() !== 'password') {
    return tokenError(400, 'unsupported_grant_type', 'Only grant_type=password is supported.');
  }
  const loginName = params.username;
  const password = params.password;
  if (!loginName || !password) {
    return tokenError(400, 'invalid_request', 'username and password are required.');
  }
  if (loginName.length > LOGIN_NAME_MAX || password.length > PASSWORD_MAX) {
    return tokenError(400, 'invalid_grant', 'The user name or password is incorrect.');
  }
  const otp = headers.otp?.trim();
  const factor: { totpCode?: string; recoveryCode?: string } = {};
  if (otp) {
    const recovery = headers.provider?.trim().toLowerCase() === RECOVERY_PROVIDER;
    if (!recovery && /^[0-9]{6}$/.test(otp)) factor.totpCode = otp;
    else factor.recoveryCode = otp;
  }
  try {
    const session = await auth.login({ loginName, password, client: 'api', ...factor }, ip);
    const seconds = Math.max(0, Math.round((Date.parse(session.expiresAt) - clock.now()) / 1000));
    return {
      status: 200,
      body: { access_token: session.token, token_type: 'bearer', expires_in: seconds },
      headers: {},
    };
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    const otpHeaders = { 'x-pleasant-otp': 'required', 'x-pleasant-otp-provider': OTP_PROVIDER };
    switch (err.code) {
      case 'two_factor_required':
        return tokenError(400, 'invalid_grant', 'A two-factor code is required.', otpHeaders);
      case 'invalid_two_factor_code':
        return tokenError(
          400,
          'invalid_grant',
          'The two-factor code is wrong, was already used or has expired.',
          otpHeaders,
        );
      case 'invalid_credentials':
        return tokenError(400, 'invalid_grant', 'The user name or password is incorrect.');
      case 'account_locked':
        return tokenError(
          400,
          'invalid_grant',
          err.message,
          err.retryAfterSeconds !== undefined
            ? { 'retry-after': String(err.retryAfterSeconds) }
            : {},
        );
      case 'rate_limited':
        return tokenError(429, 'rate_limited', err.message, {
          'retry-after': String(err.retryAfterSeconds ?? 60),
        });
      case 'validation_failed':
        return tokenError(400, 'invalid_request', err.message);
      default:
        throw err;
    }
  }
}
