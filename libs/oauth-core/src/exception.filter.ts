import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { requestIdOf } from './http';
import { OAuthError } from './oauth-error';

/**
 * The one failure renderer (GEN-1, CONTRACT §2): every error leaves as an RFC 6749 §5.2 JSON body
 * with `Cache-Control: no-store`. Anything that is not an OAuthError becomes `server_error` (or
 * `temporarily_unavailable` when a store is down) and is logged with the request id; no stack
 * trace, SQL or key material reaches the client.
 */
@Catch()
export class OAuthExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('OAuthExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    const error = withBasicChallenge(toOAuthError(exception), req.headers?.authorization);
    if (error.reason === STORE_INPUT) {
      // A value reached PostgreSQL that the readers upstream should have refused: worth a look,
      // not an alert. No stack, no message (a driver message can quote the value): where and the code.
      const detail = { requestId: requestIdOf(req), route: req.route?.path ?? req.path, pgCode: pgCodeOf(exception), at: storeInputDetail(exception) };
      const log = (req as Request & { log?: { warn: (o: object, m: string) => void } }).log;
      if (log) log.warn(detail, 'input refused at the store');
      else this.logger.warn(`input refused at the store request=${detail.requestId} pgCode=${detail.pgCode ?? '-'} ${detail.at ?? ''}`);
    } else if (error.code === 'server_error' || error.code === 'temporarily_unavailable') {
      const log = (req as Request & { log?: { error: (o: object, m: string) => void } }).log;
      const detail = { err: exception, requestId: requestIdOf(req), route: req.route?.path ?? req.path };
      if (log) log.error(detail, error.code === 'server_error' ? 'unhandled error' : 'dependency unavailable');
      else this.logger.error(`${error.code} request=${requestIdOf(req)}: ${describe(exception)}`);
    }
    sendOAuthError(res, error);
  }
}

/** The challenge of the token service's client authentication (RFC 7617). */
export const BASIC_CHALLENGE = 'Basic realm="first-party-auth"';

/**
 * RFC 6749 §5.2: a client that tried `Authorization: Basic` and gets `invalid_client` is answered
 * 401 with a `WWW-Authenticate` for that scheme — wherever the refusal came from (client
 * authentication sets it itself; this catches every other endpoint). A challenge already chosen
 * (a DPoP one, say) stays.
 */
export function withBasicChallenge(error: OAuthError, authorization: string | string[] | undefined): OAuthError {
  if (error.code !== 'invalid_client' || error.headers['WWW-Authenticate'] !== undefined) return error;
  if (typeof authorization !== 'string' || !/^basic(\s|$)/i.test(authorization.trim())) return error;
  return error.withHeaders({ 'WWW-Authenticate': BASIC_CHALLENGE });
}

export function sendOAuthError(res: Response, error: OAuthError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.status(error.status);
  for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  res.json(error.toBody());
}

export function toOAuthError(exception: unknown): OAuthError {
  if (exception instanceof OAuthError) return exception;
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    if (status === 404) return new OAuthError('not_found', 'no such endpoint');
    if (status === 405) return new OAuthError('method_not_allowed', 'method not allowed');
    if (status === 413) return new OAuthError('invalid_request', 'request body too large', { status: 413 });
    if (status >= 400 && status < 500) return new OAuthError('invalid_request', 'malformed request', { status });
  }
  const bodyParserType = (exception as { type?: unknown } | null)?.type;
  if (bodyParserType === 'entity.too.large') return new OAuthError('invalid_request', 'request body too large', { status: 413 });
  if (typeof bodyParserType === 'string' && bodyParserType.startsWith('entity.')) {
    return new OAuthError('invalid_request', 'malformed request body');
  }
  if (bodyParserType === 'charset.unsupported' || bodyParserType === 'encoding.unsupported') {
    return new OAuthError('invalid_request', 'unsupported request encoding', { status: 415 });
  }
  if (bodyParserType === 'parameters.too.many') {
    return new OAuthError('invalid_request', 'too many parameters', { status: 413 });
  }
  if (pgCodeOf(exception) !== undefined && STORE_BAD_INPUT.has(pgCodeOf(exception)!)) {
    return new OAuthError('invalid_request', 'a parameter holds a value that cannot be stored', { reason: STORE_INPUT, cause: exception });
  }
  if (isUnavailable(exception)) {
    return new OAuthError('temporarily_unavailable', 'a backing store is unavailable; retry later', {
      headers: { 'Retry-After': '1' },
      cause: exception,
    });
  }
  return new OAuthError('server_error', undefined, { cause: exception });
}

/** `OAuthError.reason` of input refused at (or by) the store: persistence's last line, or PostgreSQL itself. */
export const STORE_INPUT = 'store_input';

/**
 * PostgreSQL errors that mean "this input cannot be stored" (Appendix A of its manual), the
 * client's fault rather than the server's: 22001 string_data_right_truncation, 22003
 * numeric_value_out_of_range, 22021 character_not_in_repertoire (NUL, invalid UTF-8), 22026
 * string_data_length_mismatch, 22P02 invalid_text_representation, 22P05 untranslatable_character
 * (`\u0000` in jsonb), 54000 program_limit_exceeded (e.g. a key over the btree row limit).
 */
const STORE_BAD_INPUT = new Set(['22001', '22003', '22021', '22026', '22P02', '22P05', '54000']);

/** The SQLSTATE of a PostgreSQL error, wrapped by TypeORM (`driverError`) or not. */
export function pgCodeOf(e: unknown): string | undefined {
  for (let cur: unknown = e, depth = 0; cur && depth < 4; depth++) {
    const err = cur as { code?: unknown; driverError?: unknown; cause?: unknown };
    if (typeof err.code === 'string' && /^[0-9A-Z]{5}$/.test(err.code)) return err.code;
    cur = err.driverError ?? err.cause;
  }
  return undefined;
}

function storeInputDetail(e: unknown): string | undefined {
  const cause = e instanceof OAuthError ? e.cause : undefined;
  return cause instanceof Error ? cause.message : undefined;
}

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03', '53300']);

/**
 * Connection-level failures of PostgreSQL or Redis: the caller may retry, the request was not processed. Also a
 * PostgreSQL pool that stayed exhausted for the connect timeout (pg-pool's "timeout exceeded when trying to
 * connect": overload, no statement was sent).
 */
export function isUnavailable(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur && depth < 4; depth++) {
    const err = cur as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown; name?: unknown };
    if (typeof err.code === 'string' && UNAVAILABLE_CODES.has(err.code)) return true;
    if (typeof err.message === 'string' && /Connection terminated|connection timeout|timeout exceeded when trying to connect|Connection is closed|Stream isn't writeable|MaxRetriesPerRequest|ECONNREFUSED/i.test(err.message)) {
      return true;
    }
    cur = err.driverError ?? err.cause;
  }
  return false;
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}
