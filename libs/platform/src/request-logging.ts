import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Level, LogFn, Logger } from 'pino';
import type { Histogram } from 'prom-client';
import { requestIdFor } from './logging';

/**
 * What every request costs before and after its handler (issue 13): a request id, `req.log`, one
 * `close` listener that observes the latency histogram and writes the completion line. It
 * replaces pino-http + nestjs-pino's middleware, which per request built two child loggers (the
 * second running the request serializer over every header), attached three listeners and entered
 * an AsyncLocalStorage context — whose promise hooks then ran on every promise of the request —
 * even at `LOG_LEVEL=warn`, where none of it is ever written.
 */

/** Paths whose completion line is not written (probes and scrapes); they still get a request id. */
const QUIET_PATHS = new Set(['/health/live', '/health/ready', '/metrics']);

type LogArgs = Parameters<LogFn>;

/**
 * `req.log`: the request's logger, a child of the app's logger carrying `reqId`, created the first
 * time a line at an enabled level is written through it (most requests never write one).
 */
export class RequestLog {
  private child: Logger | undefined;

  constructor(
    private readonly root: Logger,
    readonly id: string,
  ) {}

  /** The pino child logger itself (created now if it was not yet). */
  get logger(): Logger {
    return (this.child ??= this.root.child({ reqId: this.id }));
  }

  isLevelEnabled(level: Level): boolean {
    return this.root.isLevelEnabled(level);
  }

  trace(...args: LogArgs): void {
    this.write('trace', args);
  }
  debug(...args: LogArgs): void {
    this.write('debug', args);
  }
  info(...args: LogArgs): void {
    this.write('info', args);
  }
  warn(...args: LogArgs): void {
    this.write('warn', args);
  }
  error(...args: LogArgs): void {
    this.write('error', args);
  }
  fatal(...args: LogArgs): void {
    this.write('fatal', args);
  }

  private write(level: Level, args: LogArgs): void {
    if (this.root.isLevelEnabled(level)) (this.logger[level] as (...a: LogArgs) => void)(...args);
  }
}

/** The request fields the middleware sets (read by requestIdOf in @fpa/oauth-core and the exception filter). */
export type LoggedRequest = IncomingMessage & { id?: string; log?: RequestLog; originalUrl?: string; baseUrl?: string; route?: { path?: unknown } };

export interface RequestObserver {
  readonly root: Logger;
  readonly duration: Histogram<'method' | 'route' | 'status'>;
}

/** `labels()` hashes its arguments on every call; the handful of (method, route, status) children are kept. */
const childCache = new WeakMap<RequestObserver['duration'], Map<string, { observe(v: number): void }>>();
function durationOf(h: RequestObserver['duration'], method: string, route: string, status: string): { observe(v: number): void } {
  let byKey = childCache.get(h);
  if (!byKey) childCache.set(h, (byKey = new Map()));
  const key = `${method} ${route} ${status}`;
  let child = byKey.get(key);
  if (!child) byKey.set(key, (child = h.labels(method, route, status)));
  return child;
}

/**
 * Gives the request its id (echoed as `X-Request-Id`) and `req.log`, and on `close` — after
 * `finish` for an answered request, alone for an aborted one — observes the latency of an
 * answered request by route template and writes the completion line when its level is enabled:
 * `info`, or `error` for a 5xx, with the request id, method, path (no query string), status and
 * response time.
 */
export function observeRequest(req: LoggedRequest, res: ServerResponse, observer: RequestObserver): void {
  const start = process.hrtime.bigint();
  const id = requestIdFor(req);
  req.id = id;
  req.log = new RequestLog(observer.root, id);
  res.setHeader('X-Request-Id', id);
  res.once('close', () => {
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const finished = res.writableFinished;
    const status = res.statusCode;
    if (finished) {
      const route = req.route?.path ? `${req.baseUrl ?? ''}${String(req.route.path)}` : 'unmatched';
      durationOf(observer.duration, req.method ?? '', route, String(status)).observe(seconds);
    }
    const level = status >= 500 ? 'error' : 'info';
    if (!observer.root.isLevelEnabled(level)) return;
    const path = (req.originalUrl ?? req.url ?? '').split('?')[0];
    if (QUIET_PATHS.has(path)) return;
    const line = { reqId: id, req: { id, method: req.method, path }, res: { statusCode: status }, responseTime: Math.round(seconds * 1000) };
    if (status >= 500) observer.root.error({ ...line, err: new Error(`failed with status code ${status}`) }, 'request errored');
    else observer.root.info(line, finished ? 'request completed' : 'request aborted');
  });
}
