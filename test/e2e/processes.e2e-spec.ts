import { FirstPartyClient } from '@fpa/client-sdk';
import { createDpopProof, decodeJwtUnverified, generateClientKeyPair } from '@fpa/crypto';
import { clientCredentialsForm, postForm, type FormResponse } from '../support/http';
import { cli, eventually } from '../support/processes';
import { createSuiteEnv, DEVICE_CLIENT, freePort, spawnApp, type AppProcess, type RunResult, type SuiteEnv } from '@fpa/testing';

/**
 * The built apps as real processes (CONTRACT §1, §2, §8): a split deployment sharing one issuer,
 * PostgreSQL and Redis; JSON logs without secrets. The embedded default on PGlite, start-up
 * configuration errors and the administration CLI are in processes-embedded, processes-config-errors
 * and processes-cli.
 */

// Processes start in seconds on a shared machine (the e2e project's testTimeout is not applied per project).
jest.setTimeout(60_000);

type LogLine = Record<string, unknown> & { req?: { id?: unknown; method?: string; path?: string }; level?: number };

function parseLogLines(output: string): { lines: LogLine[]; notJson: string[] } {
  const lines: LogLine[] = [];
  const notJson: string[] = [];
  for (const raw of output.split('\n')) {
    if (raw.trim() === '') continue;
    try {
      lines.push(JSON.parse(raw) as LogLine);
    } catch {
      notJson.push(raw);
    }
  }
  return { lines, notJson };
}

describe('split deployment: registration + two token processes on one issuer (PostgreSQL + Redis)', () => {
  let suite: SuiteEnv;
  let issuer: string;
  let registration: AppProcess;
  let tokenA: AppProcess;
  let tokenB: AppProcess;
  /** Where the SDK's token-endpoint calls go (the issuer's origin is rewritten to it). */
  let target: AppProcess;
  /** Every secret-bearing value sent or received: none may ever appear in a log line. */
  const secrets = new Set<string>();
  /** Which process answered each SDK call (`<app> <path>`). */
  const hits: string[] = [];

  const remember = (...values: unknown[]): void => {
    for (const v of values) if (typeof v === 'string' && v.length >= 16) secrets.add(v);
  };

  /** The SDK's fetch: requests to the issuer go to the registration process (/register) or to `target`. */
  const routedFetch: typeof fetch = async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    if (url.origin !== issuer) return fetch(input, init);
    const dest = url.pathname === '/register' ? registration : target;
    hits.push(`${dest === registration ? 'registration' : dest === tokenA ? 'tokenA' : 'tokenB'} ${url.pathname}`);
    const headers = (init?.headers ?? {}) as Record<string, string>;
    remember(headers.dpop, headers.authorization?.replace(/^\S+ /, ''));
    if (typeof init?.body === 'string') {
      const form = new URLSearchParams(init.body);
      remember(form.get('client_assertion'), form.get('refresh_token'));
    }
    const res = await fetch(`${dest.url}${url.pathname}${url.search}`, init);
    const text = await res.clone().text();
    try {
      const body = JSON.parse(text) as Record<string, unknown>;
      remember(body.access_token, body.refresh_token, body.fp_token, body.auth_session);
    } catch {
      /* not JSON */
    }
    return res;
  };

  /** A hand-built token request to one process; every secret it carries is remembered. */
  const tokenRequest = async (app: AppProcess, form: Record<string, string>, proof: string, headers: Record<string, string> = {}): Promise<FormResponse> => {
    remember(form.client_assertion, form.refresh_token, proof);
    const res = await postForm(`${app.url}/token`, form, { dpop: proof, ...headers });
    remember(res.body.access_token, res.body.refresh_token, res.body.auth_session);
    return res;
  };

  const newDevice = async (): Promise<FirstPartyClient> => {
    const device = await FirstPartyClient.create({ issuer, clientId: DEVICE_CLIENT.client_id, fetch: routedFetch });
    await device.register();
    return device;
  };

  /** A nonce as one process mints it (RFC 9449 §8: a nonce-less proof is answered with one). */
  const nonceFrom = async (app: AppProcess): Promise<string> => {
    const proof = await createDpopProof(await generateClientKeyPair(), { htm: 'POST', htu: `${issuer}/token` });
    const res = await postForm(`${app.url}/token`, { grant_type: 'client_credentials' }, { dpop: proof });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('use_dpop_nonce');
    const nonce = res.headers.get('dpop-nonce');
    expect(nonce).toEqual(expect.any(String));
    return nonce!;
  };

  beforeAll(async () => {
    suite = await createSuiteEnv('split', { LOG_LEVEL: 'info' });
    const portA = await freePort();
    let portB = await freePort();
    while (portB === portA) portB = await freePort();
    issuer = `http://127.0.0.1:${portA}`;
    // The first process migrates the fresh database; the others start on the migrated schema.
    registration = await spawnApp('registration', suite.env, { issuer });
    let created: RunResult;
    [tokenA, tokenB, created] = await Promise.all([
      spawnApp('token', suite.env, { port: portA, issuer }),
      spawnApp('token', suite.env, { port: portB, issuer }),
      cli(suite.env, 'client', 'create', JSON.stringify(DEVICE_CLIENT)),
    ]);
    expect(created).toMatchObject({ code: 0 });
    target = tokenA;
  });

  afterAll(async () => {
    await Promise.all([registration, tokenA, tokenB].map((app) => app?.stop()));
    await suite?.dispose();
  });

  it('registers on the registration process and gets a DPoP-bound token from tokenA with the SDK', async () => {
    target = tokenA;
    hits.length = 0;
    const device = await FirstPartyClient.create({ issuer, clientId: DEVICE_CLIENT.client_id, fetch: routedFetch });
    const reg = await device.register();
    expect(decodeJwtUnverified(reg.fp_token).payload).toMatchObject({ iss: issuer, auth_session: reg.auth_session, cnf: { jkt: device.deviceKey.jkt } });
    const token = await device.requestToken();
    expect(token).toMatchObject({ token_type: 'DPoP', auth_session: reg.auth_session, refresh_token: expect.any(String) });
    expect(decodeJwtUnverified(token.access_token).payload).toMatchObject({ iss: issuer, cnf: { jkt: device.dpopKey.jkt } });
    expect(hits).toEqual(expect.arrayContaining(['registration /register', 'tokenA /token']));
    expect(hits).not.toContain('tokenB /token');
    // The session row was written by the registration process into the shared database.
    const rows = await suite.db.query('SELECT status FROM device_sessions WHERE auth_session = $1', [reg.auth_session]);
    expect(rows).toEqual([{ status: 'active' }]);
  });

  it('a nonce minted by tokenA is accepted by tokenB (stateless HMAC nonces), a made-up one is not', async () => {
    const device = await newDevice();
    const nonce = await nonceFrom(tokenA);
    const ok = await tokenRequest(tokenB, await clientCredentialsForm(device), await device.proof('POST', `${issuer}/token`, nonce));
    expect(ok.status).toBe(200);
    expect(ok.body.token_type).toBe('DPoP');

    const forged = await tokenRequest(tokenB, await clientCredentialsForm(device), await device.proof('POST', `${issuer}/token`, 'made-up-nonce-value'));
    expect(forged.status).toBe(400);
    expect(forged.body.error).toBe('use_dpop_nonce');
  });

  it('a DPoP proof used at tokenA is refused at tokenB (jti replay across processes, invalid_dpop_proof)', async () => {
    const device = await newDevice();
    const nonce = await nonceFrom(tokenA);
    const proof = await device.proof('POST', `${issuer}/token`, nonce);
    const first = await tokenRequest(tokenA, await clientCredentialsForm(device), proof);
    expect(first.status).toBe(200);
    const replay = await tokenRequest(tokenB, await clientCredentialsForm(device), proof);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_dpop_proof');
    expect(replay.body.access_token).toBeUndefined();
    // Control: the same request with a fresh proof is fine at tokenB.
    const fresh = await tokenRequest(tokenB, await clientCredentialsForm(device), await device.proof('POST', `${issuer}/token`, nonce));
    expect(fresh.status).toBe(200);
  });

  it('a client assertion used at tokenA is refused at tokenB (jti replay across processes, invalid_client)', async () => {
    const device = await newDevice();
    const nonce = await nonceFrom(tokenB);
    const form = await clientCredentialsForm(device);
    const first = await tokenRequest(tokenA, form, await device.proof('POST', `${issuer}/token`, nonce));
    expect(first.status).toBe(200);
    const replay = await tokenRequest(tokenB, form, await device.proof('POST', `${issuer}/token`, nonce));
    expect(replay.status).toBe(401);
    expect(replay.body.error).toBe('invalid_client');
    expect(replay.body.access_token).toBeUndefined();
  });

  it('refresh works at tokenB for a token issued by tokenA; the rotated token is then dead at tokenA', async () => {
    target = tokenA;
    const device = await newDevice();
    const issued = await device.requestToken();
    const oldRefresh = issued.refresh_token!;
    target = tokenB;
    hits.length = 0;
    const refreshed = await device.refresh();
    expect(hits).toContain('tokenB /token');
    expect(refreshed).toMatchObject({ token_type: 'DPoP', auth_session: issued.auth_session });
    expect(refreshed.refresh_token).toEqual(expect.any(String));
    expect(refreshed.refresh_token).not.toBe(oldRefresh);
    expect(decodeJwtUnverified(refreshed.access_token).payload.cnf).toEqual({ jkt: device.dpopKey.jkt });

    const nonce = await nonceFrom(tokenA);
    const reuse = await tokenRequest(
      tokenA,
      { grant_type: 'refresh_token', refresh_token: oldRefresh, client_id: DEVICE_CLIENT.client_id },
      await device.proof('POST', `${issuer}/token`, nonce),
    );
    expect(reuse.status).toBe(400);
    expect(reuse.body.error).toBe('invalid_grant');
  });

  it('an inbound X-Request-Id is echoed and logged; a malformed one is replaced by a fresh id', async () => {
    const res = await fetch(`${tokenB.url}/.well-known/oauth-authorization-server`, { headers: { 'x-request-id': 'test-req-123' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('test-req-123');
    await eventually(() => tokenB.output().includes('"test-req-123"'));
    const line = parseLogLines(tokenB.output()).lines.find((l) => l.req?.id === 'test-req-123');
    expect(line).toMatchObject({ req: { id: 'test-req-123', method: 'GET', path: '/.well-known/oauth-authorization-server' }, res: { statusCode: 200 } });

    // A body the parser refuses is logged with its request id too.
    const refused = await fetch(`${tokenA.url}/token`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'test-req-body' }, body: '{' });
    expect(refused.status).toBe(400);
    expect(refused.headers.get('x-request-id')).toBe('test-req-body');
    await eventually(() => tokenA.output().includes('"test-req-body"'));
    expect(parseLogLines(tokenA.output()).lines.find((l) => l.req?.id === 'test-req-body')).toMatchObject({ req: { method: 'POST', path: '/token' }, res: { statusCode: 400 } });

    const bad = await fetch(`${tokenB.url}/.well-known/oauth-authorization-server`, { headers: { 'x-request-id': 'bad id <script>' } });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const noId = await fetch(`${registration.url}/health/live`);
    expect(noId.headers.get('x-request-id')).toEqual(expect.any(String));
  });

  it('log hygiene: every line is JSON, request lines carry req.id, no token, assertion, proof, fp_token or auth_session is logged', async () => {
    // Something to log for each kind of secret: a refused token request and registration carrying them.
    const device = await newDevice();
    const nonce = await nonceFrom(tokenA);
    const bad = await tokenRequest(tokenA, await clientCredentialsForm(device, { aud: 'https://wrong.example.com' }), await device.proof('POST', `${issuer}/token`, nonce));
    expect(bad.body.error).toBe('invalid_client');
    await new Promise((r) => setTimeout(r, 300));

    const apps = [registration, tokenA, tokenB];
    const all = apps.map((a) => a.output()).join('\n');
    expect(secrets.size).toBeGreaterThan(20);
    const leaked = [...secrets].filter((s) => all.includes(s)).map((s) => `${s.slice(0, 24)}…`);
    expect(leaked).toEqual([]);
    // Headers and bodies are not logged at all.
    expect(all).not.toMatch(/"(authorization|dpop|client_assertion|refresh_token|access_token|fp_token)"\s*:/i);

    for (const app of apps) {
      const { lines, notJson } = parseLogLines(app.output());
      expect({ app: app.name, notJson }).toEqual({ app: app.name, notJson: [] });
      const requestLines = lines.filter((l) => l.req !== undefined);
      expect(requestLines.length).toBeGreaterThan(0);
      for (const l of requestLines) {
        expect(l.req).toEqual({ id: expect.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/), method: expect.any(String), path: expect.any(String) });
      }
    }
    const tokenLines = parseLogLines(tokenA.output()).lines.filter((l) => l.req?.path === '/token');
    expect(tokenLines.length).toBeGreaterThan(3);
    expect(new Set(tokenLines.map((l) => l.req?.id)).size).toBe(tokenLines.length);
  });

  it('an unexpected fault is 500 {"error":"server_error"} without SQL, and an error log line with the request id', async () => {
    // Break the shared schema under the running processes (this suite's own database; runs last).
    await suite.db.query('DROP TABLE device_sessions CASCADE');
    const device = await FirstPartyClient.create({ issuer, clientId: DEVICE_CLIENT.client_id });
    const res = await postForm(
      `${registration.url}/register`,
      { client_id: DEVICE_CLIENT.client_id, public_key: JSON.stringify(device.deviceKey.publicJwk) },
      { 'x-request-id': 'fault-req-1' },
    );
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: 'server_error' });
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-request-id')).toBe('fault-req-1');
    expect(res.text).not.toMatch(/device_sessions|relation|SELECT|INSERT|QueryFailedError|\bat /);
    await eventually(() => parseLogLines(registration.output()).lines.some((l) => l.req?.id === 'fault-req-1' && l.level === 50));
    const errorLines = parseLogLines(registration.output()).lines.filter((l) => l.level === 50);
    expect(errorLines.some((l) => l.req?.id === 'fault-req-1' || l.requestId === 'fault-req-1')).toBe(true);
  });
});
