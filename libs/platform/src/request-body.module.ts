import { type MiddlewareConsumer, Module, type NestModule, RequestMethod } from '@nestjs/common';
import express, { type NextFunction, type Request, type Response } from 'express';
import { OAuthError, sendOAuthError, toOAuthError } from '@fpa/oauth-core';

export const BODY_LIMIT = '64kb';

// CONTRACT §2: form bodies everywhere, JSON at the challenge endpoint. Non-extended parsing keeps
// repeated names as arrays so they can be refused; parser failures become OAuth errors, never HTML.
const urlencoded = express.urlencoded({ extended: false, limit: BODY_LIMIT, parameterLimit: 100 });
const json = express.json({ limit: BODY_LIMIT, strict: true });

/**
 * A body the parsers refuse is the client's fault: the known body-parser types map to their OAuth
 * error, and the rest (e.g. a body that is not what its Content-Encoding says) is a 400, not a 500.
 */
function bodyError(err: unknown): OAuthError {
  const error = toOAuthError(err);
  if (error.code !== 'server_error') return error;
  const status = (err as { status?: unknown } | null)?.status;
  return new OAuthError('invalid_request', 'malformed request body', { status: status === 413 || status === 415 ? status : 400, cause: err });
}

function parseBody(req: Request, res: Response, next: NextFunction): void {
  urlencoded(req, res, (err?: unknown) => {
    if (err) return sendOAuthError(res, bodyError(err));
    json(req, res, (err2?: unknown) => (err2 ? sendOAuthError(res, bodyError(err2)) : next()));
  });
}

/**
 * Request body parsing as module middleware: Nest runs it after the middleware `configureHttp`
 * (bootstrap.ts) installs with `app.use`, so a refused body (413, malformed JSON, unknown charset)
 * still gets a request id, the `X-Request-Id` header and a log line like every other response.
 */
@Module({})
export class RequestBodyModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(parseBody).forRoutes({ path: '*', method: RequestMethod.ALL });
  }
}
