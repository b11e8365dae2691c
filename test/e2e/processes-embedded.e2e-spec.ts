import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FirstPartyClient } from '@fpa/client-sdk';
import { launchBrowser } from '../support/browser';
import { eventually } from '../support/processes';
import { appMain, freePort, runNode, spawnApp, type AppProcess } from '@fpa/testing';

/**
 * The built standalone app as a real process (CONTRACT §1, §8): the embedded default on PGlite in
 * DATA_DIR, with the SDK's device flow, its single-instance lock, a restart that keeps its state, and
 * `npm run demo` (with and without `--browser`) against it.
 */

// Processes start in seconds on a shared machine (the e2e project's testTimeout is not applied per project).
jest.setTimeout(60_000);

// The embedded default's first start (PGlite initdb + migrations) takes seconds: the file begins it
// at once and its describe block below waits for it.
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

  it('serves the OpenAPI document and Swagger UI, merged at the first request for them (issue 13 goal 4)', async () => {
    const res = await fetch(`${app!.url}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; servers: { url: string }[]; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.0.3');
    expect(doc.servers[0].url).toBe(app!.url);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/authorize-challenge', '/token', '/register']));
    // The same document again (built once), and the UI page.
    expect(await (await fetch(`${app!.url}/openapi.json`)).json()).toEqual(doc);
    const ui = await fetch(`${app!.url}/docs`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('swagger-ui');
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
      await page.getByRole('button', { name: 'Continue', exact: true }).click();
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
