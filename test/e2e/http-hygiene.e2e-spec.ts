import { gzipSync } from 'node:zlib';
import { FirstPartyClient } from '@fpa/client-sdk';
import { generateClientKeyPair } from '@fpa/crypto';
import { EPHEMERAL_STORE, RedisStore } from '@fpa/store';
import { asNonce, clientCredentialsForm, expectNoStore, postForm } from '../support/http';
import { DEVICE_CLIENT } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';

/**
 * CONTRACT §1/§2 wire hygiene of every endpoint, in-process on real PostgreSQL and Redis: errors
 * are JSON with `Cache-Control: no-store` and never a stack trace, HTML or SQL; security headers
 * and request ids on every response; health, readiness and Prometheus metrics; a Redis outage
 * answers 503 instead of issuing tokens it cannot replay-protect.
 */

jest.setTimeout(60_000);

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly body: Record<string, unknown> | undefined;
}

async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: Record<string, unknown> | undefined;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, text, body };
}

/** What leaks when an error escapes the filter: stack frames, HTML error pages, SQL or ORM names. */
const LEAK = /\bat \S+ \(|\bat (async )?[\w.<>]+ |<html|<!doctype|<pre>|SELECT |INSERT |QueryFailedError|TypeORMError|node_modules|\.ts:\d+|\.js:\d+|"stack"/i;

/** Every error: JSON `{error, error_description?}`, no-store, nosniff, a request id, nothing internal. */
function expectCleanError(res: Answer, status: number, error: string): void {
  expect({ status: res.status, error: res.body?.error }).toEqual({ status, error });
  expect(res.headers.get('content-type')).toMatch(/^application\/json\b/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  expect(res.headers.get('x-request-id')).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
  expect(Object.keys(res.body!).every((k) => ['error', 'error_description'].includes(k))).toBe(true);
  if (res.body!.error_description !== undefined) {
    // RFC 6749 §5.2 character set.
    expect(res.body!.error_description).toMatch(/^[\x20-\x21\x23-\x5B\x5D-\x7E]*$/);
  }
  expect(res.text).not.toMatch(LEAK);
}

const FORM = 'application/x-www-form-urlencoded';

describe('HTTP hygiene (standalone, PostgreSQL + Redis)', () => {
  let suite: RunningApp;
  let deviceKey: string;

  beforeAll(async () => {
    // Quiet logs: the outage test below logs errors by design.
    suite = await startStandalone('hygiene', { LOG_LEVEL: 'fatal' });
    await suite.createClient(DEVICE_CLIENT);
    deviceKey = JSON.stringify((await generateClientKeyPair()).publicJwk);
  });
  afterAll(async () => suite?.close());

  const post = (path: string, body: string | Uint8Array, headers: Record<string, string>): Promise<Answer> =>
    call(`${suite.issuer}${path}`, { method: 'POST', headers, body });

  describe('malformed requests are invalid_request JSON, never HTML or a stack trace', () => {
    it.each(['/token', '/register'])('malformed JSON at %s', async (path) => {
      expectCleanError(await post(path, '{"grant_type": "client_cre', { 'content-type': 'application/json' }), 400, 'invalid_request');
      expectCleanError(await post(path, '{"a":1,}', { 'content-type': 'application/json' }), 400, 'invalid_request');
    });

    it.each(['/token', '/register'])('well-formed JSON (not a form) at %s', async (path) => {
      expectCleanError(await post(path, JSON.stringify({ grant_type: 'client_credentials', client_id: 'native-app' }), { 'content-type': 'application/json' }), 400, 'invalid_request');
    });

    it.each(['/token', '/register'])('malformed urlencoded bodies at %s', async (path) => {
      // An unknown charset, an unknown content coding, a body that is not what its coding says, too many parameters.
      expectCleanError(await post(path, 'grant_type=client_credentials', { 'content-type': `${FORM}; charset=klingon` }), 415, 'invalid_request');
      expectCleanError(await post(path, 'grant_type=client_credentials', { 'content-type': FORM, 'content-encoding': 'x-unknown' }), 415, 'invalid_request');
      const notGzip = await post(path, 'grant_type=client_credentials', { 'content-type': FORM, 'content-encoding': 'gzip' });
      expect(notGzip.status).toBeGreaterThanOrEqual(400);
      expect(notGzip.status).toBeLessThan(500);
      expectCleanError(notGzip, notGzip.status, 'invalid_request');
      const many = Array.from({ length: 150 }, (_, i) => `p${i}=x`).join('&');
      expectCleanError(await post(path, many, { 'content-type': FORM }), 413, 'invalid_request');
    });

    it('a correctly gzipped form is understood (the content coding is honoured, not refused)', async () => {
      const res = await post('/register', gzipSync(new URLSearchParams({ client_id: DEVICE_CLIENT.client_id, public_key: deviceKey }).toString()), {
        'content-type': FORM,
        'content-encoding': 'gzip',
      });
      expect(res.status).toBe(200);
      expect(res.body?.token_type).toBe('fp+jwt');
    });

    it.each(['/token', '/register'])('a body over 64 kB at %s is 413', async (path) => {
      const big = `grant_type=client_credentials&client_id=${'a'.repeat(70 * 1024)}`;
      expectCleanError(await post(path, big, { 'content-type': FORM }), 413, 'invalid_request');
      expectCleanError(await post(path, JSON.stringify({ x: 'a'.repeat(70 * 1024) }), { 'content-type': 'application/json' }), 413, 'invalid_request');
      // Just under the limit is parsed (and then refused for what it says, not for its size).
      const under = await post(path, `client_id=${'a'.repeat(60 * 1024)}`, { 'content-type': FORM });
      expect(under.status).not.toBe(413);
      expectCleanError(under, under.status, under.body!.error as string);
    });

    it('duplicate parameters at /token are invalid_request', async () => {
      expectCleanError(await post('/token', 'grant_type=client_credentials&grant_type=client_credentials', { 'content-type': FORM }), 400, 'invalid_request');
      const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: DEVICE_CLIENT.client_id });
      await device.register();
      const form = new URLSearchParams(await clientCredentialsForm(device));
      form.append('scope', 'openid');
      form.append('scope', 'api.read');
      const proof = await device.proof('POST', `${suite.issuer}/token`, await asNonce(suite.issuer));
      const res = await post('/token', form.toString(), { 'content-type': FORM, dpop: proof });
      expectCleanError(res, 400, 'invalid_request');
      expect(res.body!.error_description).toMatch(/scope/);
    });

    it('duplicate parameters at /register are invalid_request and store nothing', async () => {
      const [{ n: before }] = await suite.env.db.query<{ n: number }>('SELECT count(*)::int AS n FROM device_sessions');
      const form = new URLSearchParams({ client_id: DEVICE_CLIENT.client_id, public_key: deviceKey });
      form.append('client_id', DEVICE_CLIENT.client_id);
      const res = await post('/register', form.toString(), { 'content-type': FORM });
      expectCleanError(res, 400, 'invalid_request');
      expect(res.body!.error_description).toMatch(/client_id/);
      const [{ n: after }] = await suite.env.db.query<{ n: number }>('SELECT count(*)::int AS n FROM device_sessions');
      expect(after).toBe(before);
    });

    it.each(['/token', '/register', '/introspect', '/revoke'])('a wrong or missing content type at %s is invalid_request', async (path) => {
      expectCleanError(await post(path, 'grant_type=client_credentials', { 'content-type': 'text/plain' }), 400, 'invalid_request');
      expectCleanError(await post(path, 'grant_type=client_credentials', { 'content-type': 'multipart/form-data; boundary=x' }), 400, 'invalid_request');
      expectCleanError(await call(`${suite.issuer}${path}`, { method: 'POST' }), 400, 'invalid_request');
    });

    it('an unknown route is 404 {"error":"not_found"}', async () => {
      for (const [method, path] of [
        ['GET', '/no-such-endpoint'],
        ['POST', '/no-such-endpoint'],
        ['GET', '/.well-known/openid-configuration-nope'],
        ['DELETE', '/register'],
      ] as const) {
        expectCleanError(await call(`${suite.issuer}${path}`, { method }), 404, 'not_found');
      }
      // The request path is not reflected into an HTML page.
      const res = await call(`${suite.issuer}/%3Cscript%3Ealert(1)%3C%2Fscript%3E`);
      expectCleanError(res, 404, 'not_found');
      expect(res.text).not.toContain('<script>');
    });

    it('GET /token and GET /register are a 404/405 JSON error', async () => {
      for (const path of ['/token', '/register']) {
        const res = await call(`${suite.issuer}${path}`);
        expect([404, 405]).toContain(res.status);
        expectCleanError(res, res.status, res.status === 404 ? 'not_found' : 'method_not_allowed');
      }
    });
  });

  it('security headers and a request id on every kind of response', async () => {
    const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: DEVICE_CLIENT.client_id });
    const key = JSON.stringify(device.deviceKey.publicJwk);
    const responses: [string, Answer][] = [
      ['metadata', await call(`${suite.issuer}/.well-known/oauth-authorization-server`)],
      ['jwks', await call(`${suite.issuer}/jwks`)],
      ['register', await post('/register', new URLSearchParams({ client_id: DEVICE_CLIENT.client_id, public_key: key }).toString(), { 'content-type': FORM })],
      ['token error', await post('/token', 'grant_type=nope', { 'content-type': FORM })],
      ['api 401', await call(`${suite.issuer}/api/me`)],
      ['404', await call(`${suite.issuer}/nope`)],
      ['413', await post('/token', `a=${'b'.repeat(70_000)}`, { 'content-type': FORM })],
      ['bad json', await post('/token', '{', { 'content-type': 'application/json' })],
      ['live', await call(`${suite.issuer}/health/live`)],
      ['ready', await call(`${suite.issuer}/health/ready`)],
      ['metrics', await call(`${suite.issuer}/metrics`)],
    ];
    for (const [name, res] of responses) {
      expect({ name, nosniff: res.headers.get('x-content-type-options'), id: res.headers.get('x-request-id') }).toEqual({
        name,
        nosniff: 'nosniff',
        id: expect.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/),
      });
      expect(res.headers.get('x-powered-by')).toBeNull();
    }
    const ids = responses.map(([, r]) => r.headers.get('x-request-id'));
    expect(new Set(ids).size).toBe(ids.length);
    // A well-formed inbound id is echoed, on errors too.
    for (const res of [
      await call(`${suite.issuer}/nope`, { headers: { 'x-request-id': 'test-req-123' } }),
      await post('/token', '{', { 'content-type': 'application/json', 'x-request-id': 'test-req-124' }),
    ]) {
      expect(res.headers.get('x-request-id')).toMatch(/^test-req-12[34]$/);
    }
  });

  it('keeps idle keep-alive connections 65 s, past load balancers\' idle timeouts (Node\'s 5 s made busy clients reuse closing sockets: ECONNRESET)', async () => {
    const server = suite.app.getHttpServer() as import('node:http').Server;
    expect(server.keepAliveTimeout).toBe(65_000);
    const { request } = await import('node:http');
    const keepAlive = await new Promise<string | undefined>((resolve, reject) => {
      const req = request(`${suite.issuer}/health/live`, { headers: { connection: 'keep-alive' } }, (res) => {
        res.resume();
        resolve(String(res.headers['keep-alive']));
      });
      req.on('error', reject);
      req.end();
    });
    expect(keepAlive).toBe('timeout=65');
  });

  it('/health/live and /health/ready answer 200 with PostgreSQL and Redis up', async () => {
    const live = await call(`${suite.issuer}/health/live`);
    expect(live.status).toBe(200);
    expect(live.body).toEqual({ status: 'ok' });
    const ready = await call(`${suite.issuer}/health/ready`);
    expect(ready.status).toBe(200);
    expectNoStore(ready);
    expect(ready.body).toMatchObject({ status: 'ok', info: { database: { status: 'up' }, redis: { status: 'up' } } });
  });

  it('/metrics is Prometheus text with route-labelled latencies, issued tokens and registrations', async () => {
    const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: DEVICE_CLIENT.client_id });
    await device.register();
    await device.requestToken();
    await call(`${suite.issuer}/no-such-endpoint`);
    const res = await fetch(`${suite.issuer}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain;.*\bversion=0\.0\.4/);
    const text = await res.text();
    expect(text).toMatch(/^# TYPE http_request_duration_seconds histogram$/m);
    expect(text).toMatch(/^http_request_duration_seconds_bucket\{[^}]*route="\/token"[^}]*\} \d+$/m);
    expect(text).toMatch(/^http_request_duration_seconds_count\{method="POST",route="\/token",status="200"\} [1-9]\d*$/m);
    expect(text).toMatch(/^http_request_duration_seconds_count\{method="POST",route="\/register",status="200"\} [1-9]\d*$/m);
    // Unknown paths share one label value (bounded cardinality).
    expect(text).not.toContain('no-such-endpoint');
    expect(text).toMatch(/^fpa_tokens_issued_total\{grant="client_credentials",token_type="DPoP"\} [1-9]\d*$/m);
    expect(text).toMatch(/^fpa_device_registrations_total\{outcome="success"\} [1-9]\d*$/m);
    expect(text).toMatch(/^fpa_dpop_failures_total\{reason="nonce"\} [1-9]\d*$/m);
    expect(text).toMatch(/^process_cpu_seconds_total /m);
    // Every non-comment line is a sample: name{labels} value.
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) {
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? -?[0-9.e+-]+|NaN|[+-]Inf$/);
    }
  });

  it('Redis unavailable: the token endpoint answers 503 temporarily_unavailable with Retry-After, readiness fails; both recover', async () => {
    const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: DEVICE_CLIENT.client_id });
    await device.register();
    const nonce = await asNonce(suite.issuer);
    const store = suite.get<RedisStore>(EPHEMERAL_STORE);
    expect(store).toBeInstanceOf(RedisStore);
    const before = await (await fetch(`${suite.issuer}/metrics`)).text();
    const issuedBefore = Number(/^fpa_tokens_issued_total\{grant="client_credentials",token_type="DPoP"\} (\d+)$/m.exec(before)?.[1] ?? 0);

    store.client.disconnect();
    try {
      const res = await postForm(`${suite.issuer}/token`, await clientCredentialsForm(device), { dpop: await device.proof('POST', `${suite.issuer}/token`, nonce) });
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ error: 'temporarily_unavailable', error_description: expect.any(String) });
      expect(res.body.access_token).toBeUndefined();
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expectNoStore(res);
      expect(res.text).not.toMatch(LEAK);

      const reg = await postForm(`${suite.issuer}/register`, { client_id: DEVICE_CLIENT.client_id, public_key: deviceKey });
      expect(reg.status).toBe(503);
      expect(reg.body.error).toBe('temporarily_unavailable');
      expect(reg.headers.get('retry-after')).not.toBeNull();

      const ready = await call(`${suite.issuer}/health/ready`);
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ status: 'error', error: { redis: { status: 'down' } } });
      expect((await call(`${suite.issuer}/health/live`)).status).toBe(200);

      const after = await (await fetch(`${suite.issuer}/metrics`)).text();
      expect(after).toMatch(new RegExp(`^fpa_tokens_issued_total\\{grant="client_credentials",token_type="DPoP"\\} ${issuedBefore}$`, 'm'));
      expect(after).toMatch(/^fpa_ready 0$/m);
    } finally {
      await store.client.connect();
    }
    expect((await call(`${suite.issuer}/health/ready`)).status).toBe(200);
    const token = await device.requestToken();
    expect(token.token_type).toBe('DPoP');
  });
});

describe('an unexpected server fault (throwaway database with a missing table)', () => {
  let suite: RunningApp;

  beforeAll(async () => {
    suite = await startStandalone('fault', { LOG_LEVEL: 'silent' });
    await suite.createClient(DEVICE_CLIENT);
    await suite.env.db.query('DROP TABLE device_sessions CASCADE');
  });
  afterAll(async () => suite?.close());

  it('is 500 {"error":"server_error"} with no SQL, stack or driver text', async () => {
    const key = JSON.stringify((await generateClientKeyPair()).publicJwk);
    const viaRegister = await call(`${suite.issuer}/register`, {
      method: 'POST',
      headers: { 'content-type': FORM },
      body: new URLSearchParams({ client_id: DEVICE_CLIENT.client_id, public_key: key }).toString(),
    });
    const viaToken = await call(`${suite.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': FORM },
      body: new URLSearchParams({ grant_type: 'fp_register', client_id: DEVICE_CLIENT.client_id, public_key: key }).toString(),
    });
    for (const res of [viaRegister, viaToken]) {
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ error: 'server_error' });
      expectCleanError(res, 500, 'server_error');
      expect(res.text).not.toMatch(/device_sessions|relation|does not exist|postgres|42P01/i);
    }
    // The rest of the server is unaffected.
    expect((await call(`${suite.issuer}/.well-known/oauth-authorization-server`)).status).toBe(200);
  });
});
