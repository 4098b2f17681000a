/**
 * Stable error codes of the Strongroom API. Clients match on `code`; the HTTP status for each
 * code is fixed here and mapped in exactly one place on the server.
 */
export const ERROR_STATUS = {
  /** A request field is missing, of the wrong type or out of range. */
  validation_failed: 400,
  /** The body is not valid JSON. */
  malformed_body: 400,
  /** The login name or password is wrong (never says which). */
  invalid_credentials: 401,
  /** No session, or the session expired or was revoked. */
  unauthenticated: 401,
  /** The password was right; the account has two-factor: send `totpCode` or `recoveryCode`. */
  two_factor_required: 401,
  /** The two-factor code (or recovery code) at login is wrong; counts as a failed login. */
  invalid_two_factor_code: 401,
  /** The policy requires two-factor and the user has not enrolled: enrol before anything else. */
  two_factor_enrolment_required: 403,
  /** The password must be changed before anything else. */
  password_change_required: 403,
  /** The caller is authenticated but lacks an application permission. */
  forbidden: 403,
  /** The account is locked after too many failed logins. */
  account_locked: 403,
  /** The account is disabled. Reported as invalid credentials at login. */
  account_disabled: 403,
  /** The thing does not exist, or the caller may not see it (the same answer on purpose). */
  not_found: 404,
  /** The caller may see the thing but may not do this to it. */
  not_allowed: 403,
  /** The caller holds View Entry Offline on no entry (through permanent grants): nothing to cache. */
  offline_not_allowed: 403,
  /** The change conflicts with existing state (duplicate name, object in use…). */
  conflict: 409,
  /** The body or an attachment is larger than allowed. */
  payload_too_large: 413,
  /** The content type is not accepted. */
  unsupported_media_type: 415,
  /** Too many requests (login rate limit). */
  rate_limited: 429,
  /** Something failed inside the server; details are in the server log only. */
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** The JSON body of every error response of the native API. */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    /** For `validation_failed`: the JSON pointer of the field that is wrong, e.g. `/name`. */
    field?: string;
    /** For `rate_limited` and `account_locked`: seconds until a retry may succeed. */
    retryAfterSeconds?: number;
  };
}
