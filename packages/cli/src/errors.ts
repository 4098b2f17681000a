/**
 * The one error type of the command-line client. Every failure a user can meet is a `CliError`
 * with a stable code; the code fixes the exit status. The top level prints `strongroom: <message>`
 * on one line and exits with that status — never a stack trace.
 */
export const EXIT_CODES = {
  /** Something failed that has no better code (a server error, a lost connection…). */
  failed: 1,
  /** The command line is wrong, or a needed input (password, comment…) was not given. */
  usage: 2,
  /** Not logged in, wrong password, two-factor code needed or wrong, session ended, locked. */
  auth: 3,
  /** No such entry or folder (or you may not see it). */
  not_found: 4,
  /** Refused because the client is Working Offline (read-only; one user only). */
  offline_refused: 5,
  /** The server does not answer and there is no offline cache to fall back on. */
  unreachable: 6,
  /** The server says you may not do this. */
  not_allowed: 7,
  /** The offline cache cannot be used: none, wrong password, other machine, damaged, expired, revoked. */
  cache: 8,
  /** The server refused the request as it was (invalid value, conflict, too large, rate limited). */
  rejected: 9,
  /** Unavailable here: no clipboard tool, no machine identity, the journal held by another process. */
  unavailable: 10,
} as const;

type ExitKind = keyof typeof EXIT_CODES;

export type CliErrorCode =
  // usage
  | 'usage'
  | 'input_needed'
  | 'ambiguous'
  | 'cache_password_rejected'
  // auth
  | 'not_logged_in'
  | 'invalid_credentials'
  | 'session_ended'
  | 'two_factor_required'
  | 'invalid_two_factor_code'
  | 'account_locked'
  | 'password_change_required'
  | 'two_factor_enrolment_required'
  // not found
  | 'not_found'
  // offline refused
  | 'offline_read_only'
  | 'offline_other_user'
  // unreachable
  | 'server_unreachable'
  // not allowed
  | 'not_allowed'
  | 'offline_not_allowed'
  // cache
  | 'no_cache'
  | 'cache_wrong_machine'
  | 'cache_wrong_password'
  | 'cache_corrupt'
  | 'cache_expired'
  | 'cache_unsupported'
  | 'cache_revoked'
  | 'journal_tampered'
  | 'journal_busy'
  // rejected
  | 'rejected'
  | 'conflict'
  | 'rate_limited'
  // unavailable
  | 'clipboard_unavailable'
  | 'machine_id_unavailable'
  // failed
  | 'server_error'
  | 'connection_lost'
  | 'server_timeout'
  | 'failed';

const KIND_OF: Record<CliErrorCode, ExitKind> = {
  usage: 'usage',
  input_needed: 'usage',
  ambiguous: 'usage',
  cache_password_rejected: 'usage',
  not_logged_in: 'auth',
  invalid_credentials: 'auth',
  session_ended: 'auth',
  two_factor_required: 'auth',
  invalid_two_factor_code: 'auth',
  account_locked: 'auth',
  password_change_required: 'auth',
  two_factor_enrolment_required: 'auth',
  not_found: 'not_found',
  offline_read_only: 'offline_refused',
  offline_other_user: 'offline_refused',
  server_unreachable: 'unreachable',
  not_allowed: 'not_allowed',
  offline_not_allowed: 'not_allowed',
  no_cache: 'cache',
  cache_wrong_machine: 'cache',
  cache_wrong_password: 'cache',
  cache_corrupt: 'cache',
  cache_expired: 'cache',
  cache_unsupported: 'cache',
  cache_revoked: 'cache',
  journal_tampered: 'cache',
  journal_busy: 'unavailable',
  rejected: 'rejected',
  conflict: 'rejected',
  rate_limited: 'rejected',
  clipboard_unavailable: 'unavailable',
  machine_id_unavailable: 'unavailable',
  server_error: 'failed',
  connection_lost: 'failed',
  server_timeout: 'failed',
  failed: 'failed',
};

export class CliError extends Error {
  readonly code: CliErrorCode;
  constructor(code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
    this.code = code;
  }
  get exitCode(): number {
    return EXIT_CODES[KIND_OF[this.code]];
  }
}
