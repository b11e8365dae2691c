import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import { startMessageCatcher } from './catcher';
import { normaliseTarget, routeFor, startProxy, type Proxy, type ProxyEvent } from './proxy';

describe('routing table (CONTRACT §1)', () => {
  it.each([
    ['/register', 'registration'],
    ['/token', 'token'],
    ['/token/', 'token'],
    ['/TOKEN', 'token'],
    ['/par', 'token'],
    ['/introspect', 'token'],
    ['/revoke', 'token'],
    ['/jwks', 'token'],
    ['/.well-known/oauth-authorization-server', 'token'],
    ['/authorize-challenge', 'challenge'],
    ['/authorize', 'challenge'],
    ['/authorize/login', 'challenge'],
    ['/authorize/assets/login.js', 'challenge'],
    ['/openapi.json', 'challenge'],
    ['/docs', 'challenge'],
    ['/docs/swagger-ui.css', 'challenge'],
    ['/openid4vp/requests/abc', 'challenge'],
    ['/openid4vp/response', 'challenge'],
    ['/federation/callback', 'federation'],
    ['/federation/jwks', 'federation'],
    ['/.well-known/openid-federation', 'federation'],
  ])('%s → %s', (path, service) => {
    expect(routeFor(path)?.service).toBe(service);
  });

  it.each(['/metrics', '/Metrics', '/metrics/', '/metrics/x', '/health/ready', '/health/live', '/', '/tokens', '/token/x', '/api/me', '/authorize/x', '/authorizex'])('%s is not routed', (path) => {
    expect(routeFor(path)).toBeUndefined();
  });

  it('a blocked path stays blocked even when a route would match it', () => {
    expect(routeFor('/metrics', [{ path: '/metrics', service: 'token' }])).toBeUndefined();
  });

  it('dot segments are resolved before routing; non-path targets are refused', () => {
    expect(normaliseTarget('/docs/../metrics')?.pathname).toBe('/metrics');
    expect(normaliseTarget('/docs/%2e%2e/metrics')?.pathname).toBe('/metrics');
    expect(normaliseTarget('/docs\\..\\metrics')?.pathname).toBe('/metrics');
    expect(normaliseTarget('/token?a=1')).toEqual({ pathname: '/token', target: '/token?a=1' });
    expect(normaliseTarget('//evil.example/token')).toBeUndefined();
    expect(normaliseTarget('*')).toBeUndefined();
    expect(normaliseTarget('http://evil.example/token')).toBeUndefined();
  });
});

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly bodyBytes: number;
  readonly bodySha: string;
}

/** A fake upstream: records each request, answers with its name (or per `behaviour`). */
async function fakeUpstream(name: string, behaviour: 'ok' | 'reset-after-read' | 'not-ready' | 'slow' = 'ok'): Promise<{ server: Server; url: string; seen: Seen[]; ready: { status: number } }> {
  const seen: Seen[] = [];
  const ready = { status: behaviour === 'not-ready' ? 503 : 200 };
  const server = createServer((req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      hash.update(c);
    });
    req.on('end', () => {
      if (req.url === '/health/ready') {
        res.writeHead(ready.status, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyBytes: bytes, bodySha: hash.digest('hex') });
      if (behaviour === 'reset-after-read') {
        req.socket.destroy();
        return;
      }
      const answer = (): void => {
        res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name, 'keep-alive': 'timeout=5' });
        res.end(JSON.stringify({ upstream: name, bytes }));
      };
      if (behaviour === 'slow') setTimeout(answer, 300);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, seen, ready };
}

function send(url: string, options: { method?: string; headers?: Record<string, string>; body?: Buffer | string; chunks?: Buffer[] } = {}): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    for (const c of options.chunks ?? []) req.write(c); // several writes without a length: chunked
    req.end(options.body);
  });
}

describe('the proxy', () => {
  const servers: Server[] = [];
  let proxy: Proxy | undefined;
  const events: ProxyEvent[] = [];
  const upstream = async (name: string, behaviour?: 'ok' | 'reset-after-read' | 'not-ready' | 'slow'): Promise<Awaited<ReturnType<typeof fakeUpstream>>> => {
    const u = await fakeUpstream(name, behaviour);
    servers.push(u.server);
    return u;
  };
  const start = async (): Promise<Proxy> => (proxy = await startProxy({ healthIntervalMs: 0, onEvent: (e) => events.push(e) }));

  afterEach(async () => {
    await proxy?.close(100);
    proxy = undefined;
    events.length = 0;
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  it('routes by path, balances round-robin, sets X-Forwarded-* and passes X-Request-Id', async () => {
    const [a, b, reg] = [await upstream('token-a'), await upstream('token-b'), await upstream('registration')];
    const p = await start();
    p.addUpstream('token', 'token-a', a.url);
    p.addUpstream('token', 'token-b', b.url);
    p.addUpstream('registration', 'registration', reg.url);
    const answers: string[] = [];
    for (let i = 0; i < 4; i++) answers.push(String((await send(`${p.url}/token`, { headers: { 'x-forwarded-for': '6.6.6.6' } })).headers['x-upstream']));
    expect(answers.sort()).toEqual(['token-a', 'token-a', 'token-b', 'token-b']);
    expect((await send(`${p.url}/register`)).headers['x-upstream']).toBe('registration');

    const seen = a.seen[0]!;
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1'); // the client's own value is not trusted
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe(new URL(p.url).host);
    expect(seen.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen.headers.connection).toBe('close');

    const withId = await send(`${p.url}/token`, { headers: { 'x-request-id': 'abc-123' } });
    expect(withId.status).toBe(200);
    expect([...a.seen, ...b.seen].find((s) => s.headers['x-request-id'] === 'abc-123')).toBeDefined();
    // Hop-by-hop headers of the upstream's response are not passed on.
    expect(withId.headers['keep-alive']).toBeUndefined();
  });

  it('streams request bodies to the upstream unchanged (chunked and with a length)', async () => {
    const a = await upstream('token-a');
    const p = await start();
    p.addUpstream('token', 'token-a', a.url);
    const body = Buffer.alloc(3 * 1024 * 1024, 7);
    const sha = createHash('sha256').update(body).digest('hex');
    const res = await send(`${p.url}/token`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ upstream: 'token-a', bytes: body.length });
    expect(a.seen[0]).toMatchObject({ method: 'POST', bodyBytes: body.length, bodySha: sha });
    expect(a.seen[0]!.headers['content-length']).toBe(String(body.length));

    const chunked = await send(`${p.url}/token`, { method: 'POST', chunks: [body.subarray(0, 1000), body.subarray(1000)] });
    expect(JSON.parse(chunked.text)).toEqual({ upstream: 'token-a', bytes: body.length });
    expect(a.seen[1]).toMatchObject({ bodyBytes: body.length, bodySha: sha, headers: expect.objectContaining({ 'transfer-encoding': 'chunked' }) });
  });

  it('/metrics and unrouted paths are 404 and never reach an upstream', async () => {
    const a = await upstream('token-a');
    const p = await start();
    p.addUpstream('token', 'token-a', a.url);
    for (const path of ['/metrics', '/METRICS', '/docs/../metrics', '/health/ready', '/nothing']) {
      const res = await send(`${p.url}${path}`);
      expect({ path, status: res.status, body: res.text }).toEqual({ path, status: 404, body: '{"error":"not_found"}' });
    }
    expect(a.seen).toEqual([]);
  });

  it('a refused connection (nothing sent) is retried on another replica, which takes the replica out of rotation', async () => {
    const a = await upstream('token-a');
    const dead = await upstream('token-dead');
    const deadUrl = dead.url;
    await new Promise((r) => dead.server.close(r));
    servers.splice(servers.indexOf(dead.server), 1);
    const p = await start();
    p.addUpstream('token', 'token-dead', deadUrl);
    p.addUpstream('token', 'token-a', a.url);
    const results = await Promise.all(Array.from({ length: 6 }, () => send(`${p.url}/token`, { method: 'POST', body: 'grant_type=x' })));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(a.seen).toHaveLength(6);
    expect(a.seen.every((s) => s.bodyBytes === 'grant_type=x'.length)).toBe(true);
    expect(p.upstreams().find((u) => u.name === 'token-dead')).toMatchObject({ healthy: false, reason: expect.stringMatching(/ECONNREFUSED/) });
    const retried = events.flatMap((e) => (e.type === 'exchange' && e.exchange.attempts.length > 1 ? [e.exchange] : []));
    expect(retried.length).toBeGreaterThan(0);
    for (const x of retried) expect(x.attempts).toEqual([{ upstream: 'token-dead', connected: false, error: 'ECONNREFUSED' }, { upstream: 'token-a', connected: true }]);
  });

  it('a connection lost after the request was sent is a 502 and is never replayed on another replica', async () => {
    const flaky = await upstream('token-flaky', 'reset-after-read');
    const good = await upstream('token-good');
    const p = await start();
    p.addUpstream('token', 'token-flaky', flaky.url);
    p.addUpstream('token', 'token-good', good.url);
    const res = await send(`${p.url}/token`, { method: 'POST', body: 'grant_type=client_credentials', headers: { 'x-request-id': 'once-only' } });
    expect(res.status).toBe(502);
    expect(JSON.parse(res.text)).toMatchObject({ error: 'temporarily_unavailable' });
    expect(res.headers['x-request-id']).toBe('once-only');
    expect(flaky.seen).toHaveLength(1);
    expect(good.seen).toHaveLength(0);
    const x = events.find((e) => e.type === 'exchange')!;
    expect(x.type === 'exchange' && x.exchange).toMatchObject({ outcome: 'upstream_failed', upstream: 'token-flaky', attempts: [{ upstream: 'token-flaky', connected: true }] });
  });

  it('a replica whose /health/ready fails leaves the rotation and comes back when it passes', async () => {
    const a = await upstream('token-a');
    const b = await upstream('token-b', 'not-ready');
    const p = await start();
    p.addUpstream('token', 'token-a', a.url);
    p.addUpstream('token', 'token-b', b.url);
    await p.checkHealth();
    expect(p.upstreams().map((u) => [u.name, u.healthy])).toEqual([
      ['token-a', true],
      ['token-b', false],
    ]);
    for (let i = 0; i < 4; i++) expect((await send(`${p.url}/token`)).headers['x-upstream']).toBe('token-a');
    b.ready.status = 200;
    await p.checkHealth();
    const names = new Set<string>();
    for (let i = 0; i < 4; i++) names.add(String((await send(`${p.url}/token`)).headers['x-upstream']));
    expect([...names].sort()).toEqual(['token-a', 'token-b']);
    expect(events.filter((e) => e.type === 'health').map((e) => e.type === 'health' && [e.upstream, e.healthy])).toEqual([
      ['token-b', false],
      ['token-b', true],
    ]);
  });

  it('close() lets an exchange in flight finish and does not wait for the client\'s kept-alive connection', async () => {
    const slow = await upstream('token-slow', 'slow');
    const p = await start();
    p.addUpstream('token', 'token-slow', slow.url);
    const agent = new Agent({ keepAlive: true });
    try {
      const pending = new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
        request(`${p.url}/token`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
        })
          .on('error', reject)
          .end();
      });
      await new Promise((r) => setTimeout(r, 50));
      const t0 = Date.now();
      await p.close(10_000);
      proxy = undefined;
      expect(Date.now() - t0).toBeLessThan(1500);
      expect(await pending).toEqual({ status: 200, connection: 'close' });
    } finally {
      agent.destroy();
    }
  });

  it('no replica at all → 503 temporarily_unavailable', async () => {
    const p = await start();
    const res = await send(`${p.url}/authorize-challenge`, { method: 'POST', body: 'x=1' });
    expect(res.status).toBe(503);
    expect(JSON.parse(res.text)).toMatchObject({ error: 'temporarily_unavailable' });
    expect(res.headers['cache-control']).toBe('no-store');
  });
});

describe('the message catcher and the store check', () => {
  it('writes an email sent over SMTP and an SMS posted over HTTP to the outbox in the embedded format', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fpa-catcher-'));
    const catcher = await startMessageCatcher(join(dir, 'outbox.jsonl'));
    try {
      const mail = createTransport(catcher.smtpUrl);
      await mail.sendMail({ from: 'a@localhost', to: 'user@example.com', subject: 'Your sign-in code', text: `Your sign-in code is 123456. ${'long line '.repeat(12)}é` });
      mail.close();
      const sms = await fetch(catcher.smsUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ to: '+15550100', message: 'Your code is 654321' }) });
      expect(sms.status).toBe(202);
      const lines = readFileSync(catcher.outboxPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
      expect(lines).toEqual([
        { at: expect.any(String), channel: 'email', to: 'user@example.com', subject: 'Your sign-in code', text: expect.stringMatching(/^Your sign-in code is 123456\. (long line ){12}é$/) },
        { at: expect.any(String), channel: 'sms', to: '+15550100', text: 'Your code is 654321' },
      ]);
    } finally {
      await catcher.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
