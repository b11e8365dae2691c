import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FirstPartyClient } from '@fpa/client-sdk';
import { createDpopProof, decodeJwtUnverified, generateClientKeyPair } from '@fpa/crypto';
import { launchBrowser } from '../support/browser';
import { clientCredentialsForm, postForm, type FormResponse } from '../support/http';
import { appMain, createSuiteEnv, DEVICE_CLIENT, freePort, randomSecret, runCli, runNode, spawnApp, storeUrls, type AppProcess, type RunResult, type SuiteEnv } from '@fpa/testing';

/**
 * The built apps as real processes (CONTRACT §1, §2, §8): a split deployment sharing one issuer,
 * PostgreSQL and Redis; JSON logs without secrets; the embedded default on PGlite; start-up
 * configuration errors; the administration CLI.
 */

// Processes start in seconds on a shared machine (the e2e project's testTimeout is not applied per project).
jest.setTimeout(60_000);

/** The administration CLI with a suite's environment. */
const cli = (env: Record<string, string>, ...args: string[]): Promise<RunResult> => runCli(args, env, { timeoutMs: 30_000 });

/** Waits until `predicate` holds (log lines are written asynchronously). */
async function eventually(predicate: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

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

// The embedded default's first start (PGlite initdb + migrations) takes seconds: begin it at once so it
// overlaps the split-deployment suite; its describe block below waits for it.
let embeddedDataDir: string;
let embeddedPort: number;
let embeddedStart: Promise<AppProcess> | undefined;
const embeddedEnv = (): Record<string, string> => ({ DATA_DIR: embeddedDataDir, LOG_LEVEL: 'warn', HOST: '127.0.0.1' });

beforeAll(async () => {
  embeddedDataDir = mkdtempSync(join(tmpdir(), 'fpa-embedded-'));
  embeddedPort = await freePort();
  // No APP_MODE, DATABASE_URL, REDIS_URL or secrets: spawnApp passes only PATH, PORT and ISSUER besides these.
  embeddedStart = spawnApp('standalone', embeddedEnv(), { port: embeddedPort });
  embeddedStart.catch(() => undefined); // reported where it is awaited
});

afterAll(async () => {
  await (await embeddedStart?.catch(() => undefined))?.stop();
  rmSync(embeddedDataDir, { recursive: true, force: true });
});

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

describe('embedded default: standalone on PGlite in DATA_DIR with an in-process store', () => {
  let app: AppProcess | undefined;
  let device: FirstPartyClient;
  let dataDir: string;
  let port: number;

  beforeAll(async () => {
    app = await embeddedStart;
    dataDir = embeddedDataDir;
    port = embeddedPort;
  });

  afterAll(async () => {
    await app?.stop();
  });

  it('starts in embedded mode on PGlite with generated secrets in DATA_DIR', () => {
    expect(app!.output()).toMatch(/embedded mode\) on PGlite in .* with an in-process store/);
    expect(existsSync(join(dataDir, 'pgdata'))).toBe(true);
    expect(existsSync(join(dataDir, 'key-encryption.key'))).toBe(true);
    expect(existsSync(join(dataDir, 'dpop-nonce.key'))).toBe(true);
    expect(existsSync(join(dataDir, 'LOCK'))).toBe(true);
  });

  it('runs the whole device flow with the SDK and the demo client demo-app', async () => {
    const steps: string[] = [];
    device = await FirstPartyClient.create({ issuer: app!.url, clientId: 'demo-app', onEvent: (e) => steps.push(e.step) });
    const reg = await device.register();
    expect(reg.token_type).toBe('fp+jwt');
    const token = await device.requestToken();
    expect(token).toMatchObject({ token_type: 'DPoP', auth_session: reg.auth_session });
    const me = await device.fetchResource(`${app!.url}/api/me`);
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ client_id: 'demo-app', auth_session: reg.auth_session, jkt: device.dpopKey.jkt });
    const before = device.refreshToken;
    const refreshed = await device.refresh();
    expect(refreshed.refresh_token).toEqual(expect.any(String));
    expect(refreshed.refresh_token).not.toBe(before);
    expect(steps).toEqual(expect.arrayContaining(['register', 'nonce', 'token', 'resource']));
  });

  it('a second process on the same DATA_DIR refuses to start while the first runs', async () => {
    const second = await runNode(appMain('standalone'), [], { ...embeddedEnv(), PORT: String(await freePort()) }, { timeoutMs: 30_000 });
    expect(second.code).toBe(1);
    expect(second.output).toMatch(/in use/);
    expect(second.output).toContain(dataDir);
    // The running one is unharmed.
    expect((await fetch(`${app!.url}/health/ready`)).status).toBe(200);
    expect(existsSync(join(dataDir, 'LOCK'))).toBe(true);
  });

  it('stops with exit code 0 on SIGTERM; a restart on the same DATA_DIR keeps clients, keys and refresh tokens', async () => {
    expect(await app!.stop({ signal: 'SIGTERM' })).toEqual({ code: 0, signal: null });
    expect(existsSync(join(dataDir, 'LOCK'))).toBe(false);
    app = await spawnApp('standalone', embeddedEnv(), { port });
    const refreshed = await device.refresh();
    expect(refreshed.token_type).toBe('DPoP');
    expect((await device.fetchResource(`${app.url}/api/me`)).status).toBe(200);
    // The demo client was not created a second time.
    expect(app.output()).not.toMatch(/in use/);
  });

  it('`npm run demo` (dist/tools/demo/demo.js) completes against it', async () => {
    // The demo reads the one-time code from the embedded default's outbox in DATA_DIR.
    const demo = await runNode(join('dist', 'tools', 'demo', 'demo.js'), [], { ISSUER: app!.url, DATA_DIR: embeddedDataDir }, { timeoutMs: 30_000 });
    expect(demo.output).toContain('Done:');
    expect(demo.output).toContain('/api/profile');
    expect(demo.code).toBe(0);
  });

  it('`npm run demo -- --browser`: its sign-in link completes in Chromium (e-mail code, consent with the payment), the demo redeems the code', async () => {
    const demo = spawn(process.execPath, [join('dist', 'tools', 'demo', 'demo.js'), '--browser'], { env: { ...process.env, ISSUER: app!.url, DATA_DIR: embeddedDataDir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    demo.stdout.on('data', (d: Buffer) => (output += d.toString()));
    demo.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => demo.on('exit', (code) => resolve(code)));
    const browser = await launchBrowser();
    try {
      await eventually(() => /^\s+http\S+\/authorize\?\S+$/m.test(output), 15_000);
      const link = /^\s+(http\S+\/authorize\?\S+)$/m.exec(output)?.[1];
      expect(link).toEqual(expect.stringContaining('client_id=demo-web'));
      const page = browser.page;
      await page.goto(link!);
      await page.getByLabel('Email address').fill('browser-demo@example.com');
      await page.getByRole('button', { name: 'Email me a code' }).click();
      await eventually(() => /one-time code for browser-demo@example\.com: \d+/.test(output), 10_000);
      await page.getByLabel('Code').fill(/one-time code for browser-demo@example\.com: (\d+)/.exec(output)![1]);
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('heading', { name: /^Allow Demo web app/ }).waitFor();
      // RAR through PAR: the payment the demo pushed is what the user approves, and what the token carries.
      await expect(page.locator('main').textContent()).resolves.toContain('Corner Café');
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.getByText('Back in the demo app').waitFor();
      expect(await exited).toBe(0);
      expect(output).toContain('Pushed the request (PAR, RFC 9126)');
      expect(output).toMatch(/"authorization_details": \[\s*\{\s*"type": "payment_initiation"/);
      expect(output).toContain('Done:');
    } finally {
      demo.kill();
      await browser.close();
    }
  });
});

describe('configuration errors stop the process naming the variable, never echoing secrets', () => {
  const valid = (): Record<string, string> => ({
    APP_MODE: 'production',
    DATABASE_URL: 'postgres://fpa@127.0.0.1:5432/fpa',
    REDIS_URL: storeUrls().redisUrl,
    KEY_ENCRYPTION_KEY: randomSecret(),
    DPOP_NONCE_SECRET: randomSecret(),
    HOST: '127.0.0.1',
    ISSUER: 'http://127.0.0.1:3000',
  });

  it('PORT=abc → exit 1 naming PORT', async () => {
    const res = await runNode(appMain('token'), [], { ...valid(), PORT: 'abc' }, { timeoutMs: 30_000 });
    expect(res.code).toBe(1);
    expect(res.output).toMatch(/PORT: must be an integer/);
    expect(res.output).not.toMatch(/KEY_ENCRYPTION_KEY|DATABASE_URL|REDIS_URL/);
  });

  it('APP_MODE=production without KEY_ENCRYPTION_KEY → exit 1 naming KEY_ENCRYPTION_KEY', async () => {
    const env = valid();
    delete env.KEY_ENCRYPTION_KEY;
    const res = await runNode(appMain('token'), [], { ...env, PORT: '0' }, { timeoutMs: 30_000 });
    expect(res.code).toBe(1);
    expect(res.output).toMatch(/KEY_ENCRYPTION_KEY: is required when APP_MODE=production/);
  });

  it('bad secret values are named but not echoed', async () => {
    const res = await runNode(appMain('token'), [], {
      ...valid(),
      PORT: '0',
      DATABASE_URL: 'postgres://fpa:Sup3rS3cretDbPassw0rd@127.0.0.1:notaport/fpa',
      REDIS_URL: 'mysql://root:An0therRedisS3cret@127.0.0.1/0',
      KEY_ENCRYPTION_KEY: 'c2hvcnRLZWtTZWNyZXRWYWx1ZQ',
    }, { timeoutMs: 30_000 });
    expect(res.code).toBe(1);
    expect(res.output).toMatch(/DATABASE_URL/);
    expect(res.output).toMatch(/REDIS_URL/);
    expect(res.output).toMatch(/KEY_ENCRYPTION_KEY: must decode to exactly 32 bytes/);
    for (const s of ['Sup3rS3cretDbPassw0rd', 'An0therRedisS3cret', 'c2hvcnRLZWtTZWNyZXRWYWx1ZQ']) expect(res.output).not.toContain(s);
  });
});

describe('administration CLI against a suite database', () => {
  let suite: SuiteEnv;
  let registration: AppProcess | undefined;

  beforeAll(async () => {
    suite = await createSuiteEnv('cli');
  });
  afterAll(async () => {
    await registration?.stop();
    await suite?.dispose();
  });

  it('`migration run` migrates a fresh database, then reports it up to date', async () => {
    const first = await cli(suite.env, 'migration', 'run');
    expect(first).toMatchObject({ code: 0, output: expect.stringMatching(/applied: /) });
    const second = await cli(suite.env, 'migration', 'run');
    expect(second.code).toBe(0);
    expect(second.output).toContain('schema is up to date');
  });

  it('`client create`, `client disable`, `client list`', async () => {
    const [created, other, broken] = await Promise.all([
      cli(suite.env, 'client', 'create', JSON.stringify(DEVICE_CLIENT)),
      cli(suite.env, 'client', 'create', JSON.stringify({ ...DEVICE_CLIENT, client_id: 'blocked-app' })),
      cli(suite.env, 'client', 'create', '{not json'),
    ]);
    expect(created.code).toBe(0);
    expect(created.output).toMatch(/^created native-app\tpublic first-party\tenabled\t/m);
    expect(other.code).toBe(0);
    expect(broken.code).toBe(1);
    expect(broken.output).toMatch(/^error: /m);
    const disabled = await cli(suite.env, 'client', 'disable', 'blocked-app');
    expect(disabled.code).toBe(0);
    expect(disabled.output).toMatch(/^blocked-app\t.*\tDISABLED\t/m);
    const list = await cli(suite.env, 'client', 'list');
    expect(list.code).toBe(0);
    expect(list.output).toMatch(/^native-app\t.*\tenabled\t/m);
    expect(list.output).toMatch(/^blocked-app\t.*\tDISABLED\t/m);
    expect(await suite.db.query('SELECT client_id, enabled FROM clients ORDER BY client_id')).toEqual([
      { client_id: 'blocked-app', enabled: false },
      { client_id: 'native-app', enabled: true },
    ]);
  });

  it('a disabled client gets invalid_client at /register of a freshly started app', async () => {
    registration = await spawnApp('registration', suite.env);
    const key = JSON.stringify((await generateClientKeyPair()).publicJwk);
    const refused = await postForm(`${registration.url}/register`, { client_id: 'blocked-app', public_key: key });
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('invalid_client');
    const ok = await postForm(`${registration.url}/register`, { client_id: 'native-app', public_key: key });
    expect(ok.status).toBe(200);
    expect(ok.body.token_type).toBe('fp+jwt');
  });

  it('`session revoke` ends a device session: its assertion and refresh token stop working', async () => {
    expect((await cli(suite.env, 'client', 'create', JSON.stringify({ ...DEVICE_CLIENT, client_id: 'session-app' }))).code).toBe(0);
    registration ??= await spawnApp('registration', suite.env);
    const token = await spawnApp('token', { ...suite.env, ISSUER: registration.url }, {});
    try {
      const device = await FirstPartyClient.create({
        issuer: registration.url,
        clientId: 'session-app',
        // The registration app does not serve metadata: route /token and discovery to the token process.
        fetch: (input, init) => fetch(String(input).replace(registration!.url, token.url).replace(`${token.url}/register`, `${registration!.url}/register`), init),
      });
      const reg = await device.register();
      await device.requestToken();
      const revoked = await cli(suite.env, 'session', 'revoke', reg.auth_session);
      expect(revoked.code).toBe(0);
      expect(revoked.output).toContain('session revoked');
      await expect(device.refresh()).rejects.toMatchObject({ error: 'invalid_grant' });
      await expect(device.requestToken()).rejects.toMatchObject({ status: 401, error: 'invalid_client' });
      const unknown = await cli(suite.env, 'session', 'revoke', 'no-such-session-aaaaaaaaaaaaaaaaaaaaaaaaa');
      expect(unknown.code).toBe(1);
    } finally {
      await token.stop();
    }
  });

  it('`keys rotate` prints the new kid and `keys list` shows it pending next to the active key', async () => {
    const before = await cli(suite.env, 'keys', 'list');
    expect(before.code).toBe(0);
    const active = before.output.split('\n').filter((l) => /\tactive\t/.test(l));
    expect(active).toHaveLength(1);
    const rotated = await cli(suite.env, 'keys', 'rotate');
    expect(rotated.code).toBe(0);
    const kid = /new key (\S+) is published now/.exec(rotated.output)?.[1];
    expect(kid).toEqual(expect.any(String));
    const after = await cli(suite.env, 'keys', 'list');
    expect(after.code).toBe(0);
    expect(after.output).toMatch(new RegExp(`^${kid!.replace(/[-/\\^$*+?.()|[\]{}]/g, '\\$&')}\\tES256\\tpending\\t`, 'm'));
    expect(after.output).toContain(active[0]!.split('\t')[0]);
    // A second rotation while one is pending does not stack another key.
    const again = await cli(suite.env, 'keys', 'rotate');
    expect(again.output).toContain(`a rotation is already pending: ${kid}`);
  });
});
