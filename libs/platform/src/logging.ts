import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';
import type { Options as HttpLoggerOptions } from 'pino-http';
import type { AppConfig } from '@fpa/config';
import { prettyDestination } from './pretty-log';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const QUIET_PATHS = new Set(['/health/live', '/health/ready', '/metrics']);

/** Where the log lines go: a terminal gets readable lines (pretty-log.ts), anything else JSON. */
export interface LogOutput {
  readonly isTTY?: boolean;
  hasColors?(): boolean;
  write(chunk: string): unknown;
}

/**
 * JSON logs with a request id (taken from a well-formed inbound `X-Request-Id`, else a fresh UUID,
 * and echoed back). The request serializer keeps method and path only: no headers (Authorization,
 * DPoP, cookies), no query string, no body — so tokens and secrets cannot reach a log line.
 */
export function loggerParams(config: AppConfig, output: LogOutput = process.stdout): Params {
  const options: HttpLoggerOptions = {
    level: config.log.level,
    base: { app: config.app },
    genReqId: (req: IncomingMessage, res: ServerResponse) => {
      const inbound = req.headers['x-request-id'];
      const id = typeof inbound === 'string' && REQUEST_ID.test(inbound) ? inbound : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    serializers: {
      req: (req: { id?: unknown; method?: string; url?: string }) => ({
        id: req.id,
        method: req.method,
        path: (req.url ?? '').split('?')[0],
      }),
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      err: (err: { type?: string; message?: string; stack?: string; code?: unknown }) => ({
        type: err.type,
        message: err.message,
        code: err.code,
        stack: err.stack,
      }),
    },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'info' : 'info'),
    autoLogging: { ignore: (req: IncomingMessage) => QUIET_PATHS.has((req.url ?? '').split('?')[0]) },
    // req.log carries only the request id (cheaper per request); the completion line has method and path.
    quietReqLogger: true,
  };
  // Issue 13 goal 4: a person running the embedded default (or any app outside production) at a
  // terminal reads lines, not JSON; production, and stdout into a pipe or a file, keep JSON lines.
  const readable = output.isTTY === true && config.mode !== 'production';
  return { pinoHttp: readable ? [options, prettyDestination(output, { colors: output.hasColors?.() ?? false })] : options };
}
