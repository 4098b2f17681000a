import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_STATUS, type ErrorBody, type ErrorCode } from '@strongroom/protocol';
import { AppError } from '../shared/errors.js';

function body(
  code: ErrorCode,
  message: string,
  extra: Partial<ErrorBody['error']> = {},
): ErrorBody {
  return { error: { code, message, ...extra } };
}

/** Turns an Ajv validation error into the JSON pointer of the field that is wrong. */
function validationField(err: FastifyError): string {
  const first = err.validation?.[0];
  if (!first) return '';
  const params = first.params as Record<string, unknown>;
  const base = first.instancePath ?? '';
  if (typeof params.missingProperty === 'string') return `${base}/${params.missingProperty}`;
  if (typeof params.additionalProperty === 'string') return `${base}/${params.additionalProperty}`;
  return base || '/';
}

/**
 * The one place where errors become HTTP responses. Known errors keep their public message;
 * anything unexpected is logged in full and answered with a generic 500 and no stack trace.
 */
export function mapError(err: unknown, req: FastifyRequest): { status: number; body: ErrorBody } {
  if (err instanceof AppError) {
    if (err.logDetail) req.log.info({ code: err.code, detail: err.logDetail }, 'request refused');
    const extra: Partial<ErrorBody['error']> = {};
    if (err.field !== undefined) extra.field = err.field;
    if (err.retryAfterSeconds !== undefined) extra.retryAfterSeconds = err.retryAfterSeconds;
    return { status: err.status, body: body(err.code, err.message, extra) };
  }
  const fe = err as FastifyError;
  if (fe && Array.isArray(fe.validation)) {
    const field = validationField(fe);
    const where = fe.validationContext ?? 'body';
    const msg = fe.validation[0]?.message ?? 'is invalid';
    return {
      status: 400,
      body: body('validation_failed', `Invalid ${where}: ${field || where} ${msg}.`, { field }),
    };
  }
  switch (fe?.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, body: body('malformed_body', 'The request body is not valid JSON.') };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        body: body('payload_too_large', 'The request body is larger than the server accepts.'),
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return {
        status: 415,
        body: body('unsupported_media_type', 'Send the request body as application/json.'),
      };
  }
  if (fe && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    // Framework-level client errors (bad URL encoding and the like).
    return { status: 400, body: body('validation_failed', 'The request is malformed.') };
  }
  req.log.error({ err }, 'unexpected error');
  return {
    status: ERROR_STATUS.internal,
    body: body('internal', 'The server failed to handle the request. The details are in its log.'),
  };
}

export function sendError(reply: FastifyReply, status: number, payload: ErrorBody): FastifyReply {
  if (payload.error.retryAfterSeconds !== undefined) {
    reply.header('retry-after', String(payload.error.retryAfterSeconds));
  }
  return reply.status(status).send(payload);
}
