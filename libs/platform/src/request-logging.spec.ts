import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig, type AppConfig } from '@fpa/config';
import { MetricsRegistry } from './metrics.service';
import { createRootLogger, type LogOutput } from './logging';
import { observeRequest, RequestLog, type LoggedRequest, type RequestObserver } from './request-logging';

/** Issue 13: request ids, req.log and the completion line without pino-http, lazily. */

class Capture implements LogOutput {
  readonly isTTY = false;
  readonly lines: Record<string, unknown>[] = [];
  write(chunk: string): boolean {
    for (const l of chunk.split('\n')) if (l) this.lines.push(JSON.parse(l) as Record<string, unknown>);
    return true;
  }
}

const config = (level: string): AppConfig => loadConfig('standalone', { LOG_LEVEL: level });

interface Served {
  readonly out: Capture;
  readonly metrics: MetricsRegistry;
  readonly logs: RequestLog[];
}

/** A server whose handler answers `status` (after writing `say` through req.log, when given). */
async function serve(level: string, status: number, run: (url: string, s: Served) => Promise<unknown>, say?: string): Promise<Served> {
  const out = new Capture();
  const metrics = new MetricsRegistry();
  const observer: RequestObserver = { root: createRootLogger(config(level), out), duration: metrics.httpDuration };
  const served: Served = { out, metrics, logs: [] };
  const server: Server = createServer((req: LoggedRequest, res) => {
    observeRequest(req, res, observer);
    served.logs.push(req.log!);
    if (say) req.log!.info({ step: 'handler' }, say);
    res.statusCode = status;
    res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, served);
    // The close listener runs a tick after the answer left.
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    await new Promise((r) => server.close(r));
  }
  return served;
}

const get = async (url: string, headers: Record<string, string> = {}): Promise<Response> => {
  const res = await fetch(url, { headers });
  await res.text();
  return res;
};

describe('observeRequest', () => {
  it('echoes a well-formed X-Request-Id and replaces a malformed one with a fresh UUID', async () => {
    const ids: (string | null)[] = [];
    await serve('info', 200, async (url) => {
      ids.push((await get(`${url}/x`, { 'X-Request-Id': 'req-42' })).headers.get('x-request-id'));
      ids.push((await get(`${url}/x`, { 'X-Request-Id': 'bad id <script>' })).headers.get('x-request-id'));
      ids.push((await get(`${url}/x`)).headers.get('x-request-id'));
    });
    expect(ids[0]).toBe('req-42');
    expect(ids[1]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(ids[2]).toMatch(/^[0-9a-f]{8}-/);
    expect(ids[2]).not.toBe(ids[1]);
  });

  it('at info: the completion line (method, path without query, status, time) and req.log lines carry the request id', async () => {
    const { out } = await serve('info', 200, (url) => get(`${url}/token?code=secret`, { 'X-Request-Id': 'req-7' }), 'handling');
    expect(out.lines).toEqual([
      expect.objectContaining({ level: 30, app: 'standalone', reqId: 'req-7', step: 'handler', msg: 'handling' }),
      expect.objectContaining({ level: 30, app: 'standalone', reqId: 'req-7', req: { id: 'req-7', method: 'GET', path: '/token' }, res: { statusCode: 200 }, responseTime: expect.any(Number), msg: 'request completed' }),
    ]);
    expect(JSON.stringify(out.lines)).not.toMatch(/secret/);
  });

  it('at warn: nothing for a 2xx or 4xx, and no child logger is created; a 5xx still gets its error line', async () => {
    const quiet = await serve('warn', 400, (url) => get(`${url}/token`), 'handling');
    expect(quiet.out.lines).toEqual([]);
    expect(quiet.logs).toHaveLength(1);
    expect((quiet.logs[0] as unknown as { child?: unknown }).child).toBeUndefined();

    const failed = await serve('warn', 503, (url) => get(`${url}/token`, { 'X-Request-Id': 'req-5' }));
    expect(failed.out.lines).toEqual([
      expect.objectContaining({ level: 50, reqId: 'req-5', req: { id: 'req-5', method: 'GET', path: '/token' }, res: { statusCode: 503 }, err: expect.objectContaining({ message: 'failed with status code 503' }), msg: 'request errored' }),
    ]);
  });

  it('req.log writes at an enabled level through a child with reqId, and not below the level', async () => {
    const { out, logs } = await serve('warn', 200, (url) => get(`${url}/x`, { 'X-Request-Id': 'req-9' }));
    logs[0].info('dropped');
    logs[0].warn({ detail: 1 }, 'kept');
    expect(out.lines).toEqual([expect.objectContaining({ level: 40, reqId: 'req-9', detail: 1, msg: 'kept' })]);
  });

  it('probes and scrapes get a request id but no completion line', async () => {
    const { out } = await serve('info', 200, async (url) => {
      for (const path of ['/health/live', '/health/ready', '/metrics']) expect((await get(`${url}${path}`)).headers.get('x-request-id')).toEqual(expect.any(String));
    });
    expect(out.lines).toEqual([]);
  });

  it('observes the latency of answered requests by route, whatever the log level', async () => {
    const { metrics } = await serve('silent', 200, async (url) => {
      await get(`${url}/a`);
      await get(`${url}/b`);
    });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="unmatched",status="200"\} 2/);
  });
});
