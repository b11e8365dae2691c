import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import type { AppConfig } from '@fpa/config';
import { prettyDestination } from './pretty-log';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Where the log lines go: a terminal gets readable lines (pretty-log.ts), anything else JSON. */
export interface LogOutput {
  readonly isTTY?: boolean;
  hasColors?(): boolean;
  write(chunk: string): unknown;
}

/** The request id: a well-formed inbound `X-Request-Id`, else a fresh UUID. */
export function requestIdFor(req: IncomingMessage): string {
  const inbound = req.headers['x-request-id'];
  return typeof inbound === 'string' && REQUEST_ID.test(inbound) ? inbound : randomUUID();
}

/**
 * The error serializer: type, message, code and stack only (pino's standard one first turns an
 * Error, its cause and its own properties into a plain object; a driver's extra fields stay out).
 */
const errSerializer = pino.stdSerializers.wrapErrorSerializer((err: { type?: string; message?: string; stack?: string; code?: unknown }) => ({
  type: err.type,
  message: err.message,
  code: err.code,
  stack: err.stack,
}));

/** The pino options every app shares (pure). */
export function loggerOptions(config: AppConfig): LoggerOptions {
  return { level: config.log.level, base: { app: config.app }, serializers: { err: errSerializer } };
}

/**
 * The app's one pino logger: Nest's lines, the request lines and `req.log` all go through it
 * (request-logging.ts). JSON lines; no request line carries headers (Authorization, DPoP,
 * cookies), a query string or a body — the request lines are built from method and path only, so
 * tokens and secrets cannot reach a log line. Issue 13 goal 4: a person running the embedded
 * default (or any app outside production) at a terminal reads lines, not JSON; production, and
 * stdout into a pipe or a file, keep JSON lines.
 */
export function createRootLogger(config: AppConfig, output: LogOutput = process.stdout): Logger {
  const options = loggerOptions(config);
  if (output.isTTY === true && config.mode !== 'production') {
    return pino(options, prettyDestination(output, { colors: output.hasColors?.() ?? false }));
  }
  // stdout: pino's own destination (sonic-boom on fd 1), as before; anything else (a test's capture) as given.
  return output === process.stdout ? pino(options) : pino(options, output as unknown as DestinationStream);
}
