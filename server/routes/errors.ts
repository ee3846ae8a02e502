import type { FastifyError } from 'fastify';
import type { AppContext } from '../context.js';
import { isMetronomeError, MetronomeError } from '../errors.js';

/**
 * What the routes' error handlers share: framework errors as catalogue errors, and the
 * Prometheus API's errorType for a status.
 */

/** Prometheus errorType for an HTTP status. */
export function promErrorType(status: number): string {
  if (status === 400 || status === 404 || status === 413 || status === 415) return 'bad_data';
  if (status === 422) return 'execution';
  if (status === 503) return 'timeout';
  if (status === 429) return 'unavailable';
  return 'internal';
}

/** Map framework errors (body too large, bad content type, bad JSON) to catalogue errors. */
export function toMetronomeError(err: FastifyError | MetronomeError, ctx: Pick<AppContext, 'config'>): MetronomeError {
  if (isMetronomeError(err)) return err;
  // Only recursion over what a client sent (nested JSON, filters, expressions) goes this deep.
  if (err instanceof RangeError && /Maximum call stack size exceeded/.test(err.message)) return new MetronomeError('MTR_INPUT_TOO_DEEP', [], { cause: err });
  switch ((err as FastifyError).code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new MetronomeError('MTR_WRITE_TOO_LARGE', [ctx.config.BODY_LIMIT_BYTES]);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_TYPE':
      return new MetronomeError('MTR_WRITE_BODY', [err.message]);
  }
  const status = (err as FastifyError).statusCode;
  if (status && status >= 400 && status < 500) {
    if (err instanceof SyntaxError || (err as FastifyError).code === 'FST_ERR_VALIDATION') {
      return new MetronomeError('MTR_READ_BAD_PARAM', ['body', err.message]);
    }
    // Anything else the framework refused (a malformed URL, say) is not a write-body problem.
    return new MetronomeError('MTR_BAD_REQUEST', [err.message]);
  }
  return new MetronomeError('MTR_INTERNAL', [], { cause: err });
}
