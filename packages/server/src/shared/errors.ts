import { ERROR_STATUS, type ErrorCode } from '@strongroom/protocol';

/**
 * The one error type services throw. `message` is public (sent to the client); `logDetail` is
 * for the server log only and must never contain a secret.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly logDetail: string | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { field?: string; logDetail?: string; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.field = opts.field;
    this.logDetail = opts.logDetail;
    this.retryAfterSeconds = opts.retryAfterSeconds;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

/** Not found, or not visible to the caller: deliberately the same answer (spec §3). */
export const notFound = (what = 'The item'): AppError =>
  new AppError('not_found', `${what} does not exist or you do not have access to it.`);

export const notAllowed = (action: string): AppError =>
  new AppError('not_allowed', `You do not have permission to ${action}.`);

export const forbidden = (what = 'do this'): AppError =>
  new AppError('forbidden', `You do not have the application permission to ${what}.`);

export const invalid = (field: string, message: string): AppError =>
  new AppError('validation_failed', message, { field });

export const conflict = (message: string): AppError => new AppError('conflict', message);
