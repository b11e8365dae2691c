import { randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, type ClientRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { clientAddress, forwardHeaders, REQUEST_ID, responseHeaders } from './headers';
import { CONTRACT_ROUTES, normaliseTarget, routeFor, type RouteRule } from './routes';

export * from './routes';
export { forwardHeaders } from './headers';

/**
 * A small path-routing reverse proxy (node:http only) standing in for the ingress of CONTRACT §1:
 * one public URL, each path to its service, round-robin over a service's replicas.
 *
 * - A replica is taken out of rotation when its `/health/ready` fails (polled every `healthIntervalMs`)
 *   or when a connection to it fails; a later successful poll puts it back.
 * - A request is retried on another replica only when the connection to the first one was never
 *   established (refused, unreachable, connect timeout): then not one byte of it left the proxy and
 *   the client's body has not been read yet. Once connected, a failure is final — `502`, or the
 *   client's connection is cut when the response had already started. A request that may have been
 *   processed is never replayed (a token request is not idempotent: its assertion `jti` is burnt).
 * - Every upstream connection is fresh (`Connection: close`): a pooled keep-alive socket that the
 *   server closes at the instant it is reused would be a failure after send, hence not retryable.
 * - `X-Forwarded-For` / `-Proto` / `-Host` are set (the client's own values are dropped unless
 *   `trustForwarded`), `X-Request-Id` is passed on (a fresh id when missing or malformed), bodies
 *   stream both ways, hop-by-hop headers are dropped.
 * - `/metrics` and every path not in the routing table answer 404: metrics stay on the apps' own ports.
 */

export interface UpstreamStatus {
  readonly name: string;
  readonly service: string;
  readonly url: string;
  readonly healthy: boolean;
  /** Why it is out of rotation (last failed check or connection error). */
  readonly reason: string | undefined;
  /** Requests currently being answered by it. */
  readonly inFlight: number;
  /** Requests it answered (any status). */
  readonly served: number;
}

export interface ProxyAttempt {
  readonly upstream: string;
  /** The TCP connection was established: from then on the request counts as sent. */
  readonly connected: boolean;
  readonly error?: string;
}

export interface ProxyExchange {
  readonly id: string;
  readonly method: string;
  readonly path: string;
  readonly service: string | undefined;
  /** The replica that got the request (the last attempt's). */
  readonly upstream: string | undefined;
  readonly status: number;
  /**
   * proxied: the upstream's answer was passed on; upstream_failed: the upstream connection failed after the
   * request was sent (502, or the client's connection cut); no_upstream: no replica could be connected to
   * (503); not_found: not routed (404); client_aborted: the client went away first.
   */
  readonly outcome: 'proxied' | 'upstream_failed' | 'no_upstream' | 'not_found' | 'bad_request' | 'client_aborted';
  readonly attempts: readonly ProxyAttempt[];
  /** performance.now() when the request arrived, when its upstream connection was made, when it ended. */
  readonly startedAt: number;
  readonly dispatchedAt: number | undefined;
  readonly endedAt: number;
}

export type ProxyEvent =
  | { readonly type: 'exchange'; readonly exchange: ProxyExchange }
  | { readonly type: 'health'; readonly upstream: string; readonly service: string; readonly healthy: boolean; readonly reason: string | undefined; readonly at: number };

export interface ProxyOptions {
  /** 0 (default) = a free port. */
  readonly port?: number;
  readonly host?: string;
  readonly routes?: readonly RouteRule[];
  /** Readiness poll of every replica (default 500 ms); 0 disables polling. */
  readonly healthIntervalMs?: number;
  readonly healthTimeoutMs?: number;
  /** A connection not established within this is a pre-send failure (retried). Default 2 s. */
  readonly connectTimeoutMs?: number;
  /** No response head within this → 504. Default 60 s. */
  readonly responseTimeoutMs?: number;
  /** Append to the client's X-Forwarded-For instead of replacing it (only behind another trusted proxy). */
  readonly trustForwarded?: boolean;
  readonly onEvent?: (event: ProxyEvent) => void;
  /** Human-readable lines: health changes and failed exchanges. */
  readonly log?: (line: string) => void;
}

export interface Proxy {
  readonly url: string;
  readonly port: number;
  addUpstream(service: string, name: string, url: string): void;
  removeUpstream(name: string): void;
  upstreams(): UpstreamStatus[];
  /** Polls every replica's readiness now (also what the timer does). */
  checkHealth(): Promise<void>;
  /** Stops accepting, lets in-flight exchanges finish (up to `timeoutMs`), stops polling. */
  close(timeoutMs?: number): Promise<void>;
}

interface Upstream {
  readonly name: string;
  readonly service: string;
  readonly url: string;
  readonly host: string;
  readonly port: number;
  healthy: boolean;
  reason: string | undefined;
  inFlight: number;
  served: number;
  polling: boolean;
  removed: boolean;
}

class ProxyError extends Error {}

export async function startProxy(options: ProxyOptions = {}): Promise<Proxy> {
  const routes = options.routes ?? CONTRACT_ROUTES;
  const healthIntervalMs = options.healthIntervalMs ?? 500;
  const healthTimeoutMs = options.healthTimeoutMs ?? 1000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 2000;
  const responseTimeoutMs = options.responseTimeoutMs ?? 60_000;
  const log = options.log ?? (() => undefined);
  const emit = (e: ProxyEvent): void => {
    try {
      options.onEvent?.(e);
    } catch {
      /* an observer's bug must not break the proxy */
    }
  };
  const upstreams: Upstream[] = [];
  const cursor = new Map<string, number>();
  /** Set by close(): answers say `Connection: close`, so kept-alive client connections end with them. */
  let closing = false;

  const setHealth = (up: Upstream, healthy: boolean, reason: string | undefined): void => {
    if (up.removed) return;
    const changed = up.healthy !== healthy;
    up.healthy = healthy;
    up.reason = healthy ? undefined : reason;
    if (!changed) return;
    log(`${up.name} (${up.service}) ${healthy ? 'back in rotation' : `out of rotation: ${reason ?? 'unhealthy'}`}`);
    emit({ type: 'health', upstream: up.name, service: up.service, healthy, reason: up.reason, at: performance.now() });
  };

  /** Replicas in the order to try: healthy ones round-robin, then (last resort) the others. */
  const candidates = (service: string): Upstream[] => {
    const all = upstreams.filter((u) => u.service === service && !u.removed);
    const healthy = all.filter((u) => u.healthy);
    const n = cursor.get(service) ?? 0;
    cursor.set(service, n + 1);
    const rotate = (list: Upstream[]): Upstream[] => (list.length === 0 ? list : [...list.slice(n % list.length), ...list.slice(0, n % list.length)]);
    return [...rotate(healthy), ...rotate(all.filter((u) => !u.healthy))];
  };

  const pollOne = (up: Upstream): Promise<void> =>
    new Promise((resolve) => {
      if (up.polling || up.removed) return resolve();
      up.polling = true;
      const done = (healthy: boolean, reason?: string): void => {
        up.polling = false;
        setHealth(up, healthy, reason);
        resolve();
      };
      const req = httpRequest({ host: up.host, port: up.port, path: '/health/ready', method: 'GET', agent: false, timeout: healthTimeoutMs }, (res) => {
        res.resume();
        res.once('end', () => done(res.statusCode === 200, `readiness ${res.statusCode}`));
        res.once('error', () => done(false, 'readiness read error'));
      });
      req.once('timeout', () => req.destroy(new Error('timeout')));
      req.once('error', (e: NodeJS.ErrnoException) => done(false, `readiness ${e.code ?? e.message}`));
      req.end();
    });
  const checkHealth = async (): Promise<void> => {
    await Promise.all(upstreams.filter((u) => !u.removed).map(pollOne));
  };

  const server: Server = createServer((req, res) => handle(req, res));
  server.on('clientError', (_err, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const startedAt = performance.now();
    const inbound = req.headers['x-request-id'];
    const id = typeof inbound === 'string' && REQUEST_ID.test(inbound) ? inbound : randomUUID();
    const method = req.method ?? 'GET';
    const attempts: ProxyAttempt[] = [];
    let dispatchedAt: number | undefined;
    let finished = false;
    const target = normaliseTarget(req.url ?? '');
    const rule = target && method !== 'CONNECT' ? routeFor(target.pathname, routes) : undefined;

    const finish = (status: number, outcome: ProxyExchange['outcome'], service: string | undefined, upstream: string | undefined): void => {
      if (finished) return;
      finished = true;
      const exchange: ProxyExchange = { id, method, path: target?.pathname ?? String(req.url), service, upstream, status, outcome, attempts, startedAt, dispatchedAt, endedAt: performance.now() };
      if (outcome === 'upstream_failed' || outcome === 'no_upstream') {
        log(`${method} ${exchange.path} [${id}] → ${status} ${outcome}${upstream ? ` (${upstream}: ${attempts.at(-1)?.error ?? ''})` : ''}`);
      }
      emit({ type: 'exchange', exchange });
    };
    /** A response the proxy itself writes (JSON like the suite's errors). */
    const answer = (status: number, body: Record<string, string>, outcome: ProxyExchange['outcome'], service?: string, upstream?: string): void => {
      if (!res.headersSent) {
        const text = JSON.stringify(body);
        res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-request-id': id, 'content-length': Buffer.byteLength(text), ...(closing ? { connection: 'close' } : {}) });
        res.end(text);
      } else {
        res.destroy();
      }
      finish(status, outcome, service, upstream);
    };

    if (!target) {
      req.resume();
      answer(400, { error: 'invalid_request', error_description: 'request target must be a path' }, 'bad_request');
      return;
    }
    if (!rule) {
      req.resume();
      answer(404, { error: 'not_found' }, 'not_found');
      return;
    }
    const service = rule.service;
    const order = candidates(service);
    let clientGone = false;
    let current: ClientRequest | undefined;
    res.once('close', () => {
      if (res.writableFinished) return;
      clientGone = true;
      current?.destroy();
      finish(499, 'client_aborted', service, attempts.at(-1)?.upstream);
    });
    req.once('error', () => current?.destroy());

    const tryNext = (i: number): void => {
      if (clientGone) return;
      const up = order[i];
      if (!up) {
        req.resume();
        answer(503, { error: 'temporarily_unavailable', error_description: `no ${service} replica could be reached` }, 'no_upstream', service, attempts.at(-1)?.upstream);
        return;
      }
      let connected = false;
      let settled = false;
      const headers = forwardHeaders(req.headers, id, clientAddress(req), options.trustForwarded === true);
      const upReq = httpRequest({ host: up.host, port: up.port, method, path: target.target, headers, agent: false, setHost: false });
      current = upReq;
      const connectTimer = setTimeout(() => upReq.destroy(new ProxyError(`connect timeout after ${connectTimeoutMs} ms`)), connectTimeoutMs);
      upReq.once('socket', (socket: Socket) => {
        socket.once('connect', () => {
          clearTimeout(connectTimer);
          connected = true;
          dispatchedAt = performance.now();
          up.inFlight++;
          upReq.setTimeout(responseTimeoutMs, () => upReq.destroy(new ProxyError(`no response within ${responseTimeoutMs} ms`)));
          // Only now is the client's body read: a refused connection leaves it intact for the next replica.
          req.pipe(upReq);
        });
      });
      const release = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        if (connected) {
          up.inFlight--;
          up.served++;
        }
      };
      let responded = false;
      upReq.once('error', (e: NodeJS.ErrnoException) => {
        if (responded) return; // a failure after the head is handled on the response (below)
        release();
        const error = e instanceof ProxyError ? e.message : (e.code ?? e.message);
        attempts.push({ upstream: up.name, connected, error });
        if (clientGone) return;
        if (!connected) {
          // Nothing was sent: take the replica out of rotation and try the next one.
          setHealth(up, false, `connect ${error}`);
          tryNext(i + 1);
          return;
        }
        if (/^(ECONNRESET|EPIPE|ECONNREFUSED)$/.test(e.code ?? '')) setHealth(up, false, `connection ${error}`);
        req.unpipe(upReq);
        req.resume();
        const timeout = e instanceof ProxyError && error.startsWith('no response');
        answer(timeout ? 504 : 502, { error: 'temporarily_unavailable', error_description: `the ${service} replica failed (${timeout ? 'timeout' : 'connection lost'})` }, 'upstream_failed', service, up.name);
      });
      upReq.once('response', (upRes: IncomingMessage) => {
        responded = true;
        const status = upRes.statusCode ?? 502;
        upRes.once('error', () => undefined);
        upRes.once('close', () => {
          release();
          if (upRes.complete) {
            attempts.push({ upstream: up.name, connected: true });
            finish(status, 'proxied', service, up.name);
            return;
          }
          attempts.push({ upstream: up.name, connected: true, error: 'response cut' });
          if (clientGone) return;
          // The upstream died in the middle of its response: the head is out, so cut the client too.
          setHealth(up, false, 'response cut');
          res.destroy();
          finish(502, 'upstream_failed', service, up.name);
        });
        if (clientGone) {
          upRes.resume();
          return;
        }
        res.writeHead(status, upRes.statusMessage, { ...responseHeaders(upRes.headers), ...(closing ? { connection: 'close' } : {}) });
        upRes.pipe(res);
      });
    };
    tryNext(0);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 0);
  const host = options.host && options.host !== '0.0.0.0' && options.host !== '::' ? options.host : '127.0.0.1';
  const timer = healthIntervalMs > 0 ? setInterval(() => void checkHealth(), healthIntervalMs) : undefined;
  timer?.unref();

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    addUpstream(service, name, url) {
      const u = new URL(url);
      if (upstreams.some((x) => x.name === name && !x.removed)) throw new Error(`upstream ${name} already exists`);
      // Healthy until a check or a connection says otherwise (a caller adds replicas once they are ready).
      upstreams.push({ name, service, url: u.origin, host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 80), healthy: true, reason: undefined, inFlight: 0, served: 0, polling: false, removed: false });
    },
    removeUpstream(name) {
      for (const u of upstreams) if (u.name === name) u.removed = true;
    },
    upstreams: () => upstreams.filter((u) => !u.removed).map(({ name, service, url, healthy, reason, inFlight, served }) => ({ name, service, url, healthy, reason, inFlight, served })),
    checkHealth,
    async close(timeoutMs = 5000) {
      closing = true;
      if (timer) clearInterval(timer);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // server.close() ends the connections idle right now; one whose exchange is still running ends with its
      // answer (Connection: close above), and this sweep catches any that went idle in between.
      const sweep = setInterval(() => server.closeIdleConnections(), 100);
      const force = setTimeout(() => server.closeAllConnections(), timeoutMs);
      await closed;
      clearInterval(sweep);
      clearTimeout(force);
    },
  };
}
