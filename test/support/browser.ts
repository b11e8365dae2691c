import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type CDPSession, type Page } from 'playwright-core';

/** Debian's chromium (tools/browser/ensure-chromium.sh installs it before `npm test`), or CHROMIUM_PATH. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  // The suites listen on 127.0.0.1; `localhost` (a WebAuthn-capable origin) must never depend on a resolver.
  '--host-resolver-rules=MAP localhost 127.0.0.1',
];

export interface TestBrowser {
  readonly context: BrowserContext;
  readonly page: Page;
  close(): Promise<void>;
}

/**
 * A headless Chromium with a fresh profile (`--user-data-dir` in a new temporary directory),
 * driven by playwright-core. `javaScript: false` is a browser that runs no script at all (the OTP
 * logins must work there).
 */
export async function launchBrowser(options: { javaScript?: boolean } = {}): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`The browser tests need Chromium at ${CHROMIUM}: run 'npm test' (it installs Debian's chromium with apt), or 'apt-get install -y chromium', or set CHROMIUM_PATH.`);
  }
  const profile = await mkdtemp(join(tmpdir(), 'fpa-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 480, height: 760 }, javaScriptEnabled: options.javaScript ?? true });
  } catch (e) {
    await rm(profile, { recursive: true, force: true });
    throw e;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Chromium's virtual authenticator (CDP WebAuthn domain): a platform authenticator with resident keys and user verification. */
export async function addVirtualAuthenticator(page: Page): Promise<{ cdp: CDPSession; credentialCount(): Promise<number> }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return {
    cdp,
    async credentialCount() {
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      return credentials.length;
    },
  };
}

/** Saves a screenshot under SCREENSHOTS_DIR when set (`npm run screenshots` → docs/screenshots). */
export async function screenshot(page: Page, name: string): Promise<void> {
  const dir = process.env.SCREENSHOTS_DIR;
  if (!dir) return;
  await mkdir(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}

/**
 * The client's side of a redirect: a loopback web server (RFC 8252 §7.3 redirect URIs) that answers
 * every callback with a small page, so the browser really arrives back "in the app" (a redirect
 * to a name that does not resolve would end on Chromium's error page instead).
 */
export async function startAppServer(): Promise<{ origin: string; close(): Promise<void> }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>app</title><p>Back in the app.</p>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
