import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'otplib';
import type { Page } from 'playwright-core';
import { EXAMPLE_DETAIL_TYPES } from '@fpa/authz-request';
import { decodeJwtUnverified, randomToken, s256CodeChallenge } from '@fpa/crypto';
import { ChallengeClient } from '@fpa/testing';
import { startApp, type RunningApp } from '@fpa/testing/app';
import { postForm } from '../support/http';
import { addVirtualAuthenticator, launchBrowser, screenshot, startAppServer, type TestBrowser } from '../support/browser';
import { SMS_BODY, startSmsReceiver, type SmsReceiver } from '../support/sms';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

type ClientDef = { client_id: string; redirect_uris: string[] } & Record<string, unknown>;
const web = (origin: string): ClientDef => ({
  client_id: 'web-app',
  name: 'Example Web',
  type: 'confidential',
  first_party: true,
  auth_methods: ['client_secret_basic'],
  grant_types: ['authorization_code'],
  scopes: ['openid', 'profile'],
  redirect_uris: [`${origin}/cb`],
});
const partner = (origin: string): ClientDef => ({
  ...web(origin),
  client_id: 'partner',
  name: 'Partner Budgeting',
  first_party: false,
  redirect_uris: [`${origin}/partner/cb`],
  authorization_details_types: ['account_information'],
});
/** A native app that offers only SMS itself; its browser login offers e-mail (challenge_policy.web_methods). */
const native = (origin: string): ClientDef => ({
  client_id: 'sms-app',
  name: 'SMS-only App',
  type: 'public',
  first_party: true,
  auth_methods: ['none'],
  grant_types: ['authorization_code', 'refresh_token'],
  scopes: ['openid'],
  dpop_bound_access_tokens: true,
  redirect_uris: [`${origin}/native-cb`],
  challenge_policy: { methods: ['sms_otp'], web_methods: ['email_otp'] },
});
const PHR = 'urn:first-party-auth:acr:phr';

/**
 * The browser authorization endpoint in a real browser (issue 9 item 4): Debian's chromium driven
 * by playwright-core against the standalone app on real PostgreSQL, Redis and SMTP. Each login
 * ends where a client sees it — the redirect back with `code`, `state` and `iss` (RFC 9207) — and
 * the code is exchanged at /token as that client would.
 */
describe('browser login (GET /authorize, hosted login page)', () => {
  let suite: RunningApp;
  let smtp: SmtpSink;
  let sms: SmsReceiver;
  let browser: TestBrowser;
  let appServer: Awaited<ReturnType<typeof startAppServer>>;
  let typesDir: string;
  let WEB: ClientDef;
  let PARTNER: ClientDef;
  let NATIVE: ClientDef;
  let APP_ORIGIN: string;
  let webSecret: string;
  let partnerSecret: string;

  beforeAll(async () => {
    smtp = await startSmtpSink();
    sms = await startSmsReceiver();
    appServer = await startAppServer();
    APP_ORIGIN = appServer.origin;
    [WEB, PARTNER, NATIVE] = [web(APP_ORIGIN), partner(APP_ORIGIN), native(APP_ORIGIN)];
    // The embedded default's example RAR types, as a deployment configures its own.
    typesDir = await mkdtemp(join(tmpdir(), 'fpa-rar-'));
    await writeFile(join(typesDir, 'types.json'), JSON.stringify(EXAMPLE_DETAIL_TYPES));
    suite = await startApp({
      label: 'browserlogin',
      issuerHost: 'localhost',
      overrides: {
        SMTP_URL: smtp.url,
        SMS_PROVIDER_URL: sms.url,
        SMS_PROVIDER_BODY: SMS_BODY,
        CHALLENGE_RESEND_SECONDS: '0',
        CHALLENGE_RATE_LIMIT_DESTINATION: '1000',
        AUTHORIZATION_DETAILS_FILE: join(typesDir, 'types.json'),
      },
    });
    webSecret = (await suite.createClient(WEB)).secret!;
    partnerSecret = (await suite.createClient(PARTNER)).secret!;
    await suite.createClient(NATIVE);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await suite?.close();
    await smtp?.close();
    await sms?.close();
    await appServer?.close();
    if (typesDir) await rm(typesDir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await browser.context.clearCookies();
  });

  function authorizeUrl(client: { client_id: string; redirect_uris: string[] }, verifier: string, extra: Record<string, string> = {}): string {
    const q = new URLSearchParams({
      client_id: client.client_id,
      response_type: 'code',
      redirect_uri: client.redirect_uris[0],
      scope: 'openid',
      state: randomToken(12),
      code_challenge: s256CodeChallenge(verifier),
      code_challenge_method: 'S256',
      ...extra,
    });
    return `${suite.issuer}/authorize?${q}`;
  }

  async function emailCode(page: Page, email: string): Promise<void> {
    await page.getByLabel('Email address').fill(email);
    await page.getByRole('button', { name: 'Email me a code' }).click();
    await page.getByRole('heading', { name: 'Enter the code we sent' }).waitFor();
    await page.getByLabel('Code').fill(await smtp.code(email));
  }

  /** Waits for the redirect back to the app and returns its query. */
  async function backInApp(page: Page, path: string): Promise<URLSearchParams> {
    await page.waitForURL((u) => u.origin === APP_ORIGIN && u.pathname === path);
    return new URL(page.url()).searchParams;
  }

  function redeem(client: { client_id: string; redirect_uris: string[] }, secret: string, code: string, verifier: string) {
    return postForm(
      `${suite.issuer}/token`,
      { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: client.redirect_uris[0] },
      { authorization: `Basic ${Buffer.from(`${client.client_id}:${secret}`).toString('base64')}` },
    );
  }

  it('email OTP: the page works as a form, the code comes back with state and iss (RFC 9207), and /token exchanges it', async () => {
    const { page } = browser;
    const verifier = randomToken(32);
    const url = authorizeUrl(WEB, verifier);
    const state = new URL(url).searchParams.get('state');
    const first = await page.goto(url);
    expect(first?.status()).toBe(200);
    expect(await first?.headerValue('cache-control')).toBe('no-store');
    expect(await page.title()).toBe('Sign in');
    // The binding cookie: HttpOnly, SameSite=Lax (Secure off on loopback http).
    const [cookie] = await browser.context.cookies(suite.issuer);
    expect(cookie).toMatchObject({ name: 'fpa_login', httpOnly: true, sameSite: 'Lax' });
    await screenshot(page, 'browser-login-methods');

    await page.getByLabel('Email address').fill('web.user@example.com');
    await page.getByRole('button', { name: 'Email me a code' }).click();
    await page.getByRole('heading', { name: 'Enter the code we sent' }).waitFor();
    await expect(page.locator('#status').textContent()).resolves.toContain('@example.com');
    await screenshot(page, 'browser-login-code');
    await page.getByLabel('Code').fill(await smtp.code('web.user@example.com'));
    await page.getByRole('button', { name: 'Continue' }).click();

    const back = await backInApp(page, '/cb');
    expect(back.get('state')).toBe(state);
    expect(back.get('iss')).toBe(suite.issuer);
    const res = await redeem(WEB, webSecret, back.get('code')!, verifier);
    expect(res.status).toBe(200);
    const claims = decodeJwtUnverified(res.body.access_token as string).payload;
    expect(claims).toMatchObject({ client_id: 'web-app', amr: expect.arrayContaining(['otp']) });
    // The code is single use.
    expect((await redeem(WEB, webSecret, back.get('code')!, verifier)).body.error).toBe('invalid_grant');
  });

  it('without JavaScript: an SMS code login is plain forms end to end (no script runs in this browser)', async () => {
    const noScript = await launchBrowser({ javaScript: false });
    try {
      const { page } = noScript;
      const verifier = randomToken(32);
      await page.goto(authorizeUrl(WEB, verifier));
      await page.getByLabel('Mobile number').fill('+447700900123');
      await page.getByRole('button', { name: 'Text me a code' }).click();
      await page.getByRole('heading', { name: 'Enter the code we sent' }).waitFor();
      await page.getByLabel('Code').fill(sms.code('+447700900123'));
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.waitForURL((u) => u.origin === APP_ORIGIN);
      const back = new URL(page.url()).searchParams;
      const res = await redeem(WEB, webSecret, back.get('code')!, verifier);
      expect(res.status).toBe(200);
      expect(decodeJwtUnverified(res.body.access_token as string).payload).toMatchObject({ amr: expect.arrayContaining(['sms']) });
    } finally {
      await noScript.close();
    }
  });

  it('TOTP: an authenticator app added after an e-mail code (its setup key on the page), then e-mail + TOTP meet acr mfa in a later sign-in', async () => {
    const { page } = browser;
    const MFA = 'urn:first-party-auth:acr:mfa';
    // The enrolment and the login use neighbouring 30 s steps: start with at least 10 s left in this one.
    const left = 30 - ((Date.now() / 1000) % 30);
    if (left < 10) await new Promise((r) => setTimeout(r, left * 1000 + 200));
    const step = Math.floor(Date.now() / 30_000);

    await page.goto(authorizeUrl(WEB, randomToken(32), { acr_values: MFA }));
    await emailCode(page, 'totp.user@example.com');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'One more step' }).waitFor();
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    await page.getByRole('heading', { name: 'Add an authenticator app' }).waitFor();
    const secret = await page.getByLabel('Setup key').inputValue();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(await page.getByRole('link', { name: 'Open in an authenticator app' }).getAttribute('href')).toMatch(/^otpauth:\/\/totp\//);
    await page.getByLabel('Code').fill(await generate({ secret, epoch: (step - 1) * 30 }));
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByText('Added. It can be used from your next sign-in.').waitFor();

    const verifier = randomToken(32);
    await page.goto(authorizeUrl(WEB, verifier, { acr_values: MFA }));
    await emailCode(page, 'totp.user@example.com');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Use my authenticator app' }).click();
    await page.getByRole('heading', { name: 'Enter the code from your authenticator app' }).waitFor();
    await page.getByLabel('Code').fill(await generate({ secret, epoch: step * 30 }));
    await page.getByRole('button', { name: 'Continue' }).click();
    const back = await backInApp(page, '/cb');
    const res = await redeem(WEB, webSecret, back.get('code')!, verifier);
    expect(res.status).toBe(200);
    expect(decodeJwtUnverified(res.body.access_token as string).payload).toMatchObject({ acr: MFA, amr: expect.arrayContaining(['otp', 'mfa']) });
  });

  it('a wrong code re-shows the page with the error; Cancel goes back with access_denied', async () => {
    const { page } = browser;
    const verifier = randomToken(32);
    await page.goto(authorizeUrl(WEB, verifier));
    await page.getByLabel('Email address').fill('wrong.code@example.com');
    await page.getByRole('button', { name: 'Email me a code' }).click();
    await page.getByRole('heading', { name: 'Enter the code we sent' }).waitFor();
    const right = await smtp.code('wrong.code@example.com');
    await page.getByLabel('Code').fill(right === '000000' ? '111111' : '000000');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Enter the code again' }).waitFor();
    await expect(page.locator('#status').textContent()).resolves.toMatch(/tries left/);
    await page.getByRole('button', { name: /Cancel and go back/ }).click();
    const back = await backInApp(page, '/cb');
    expect(back.get('error')).toBe('access_denied');
    expect(back.get('iss')).toBe(suite.issuer);
    expect(back.get('code')).toBeNull();
  });

  it('consent for a client that is not first-party: scopes and authorization_details shown; Deny → access_denied, Allow → code', async () => {
    const { page } = browser;
    const details = JSON.stringify([{ type: 'account_information', actions: ['list_accounts', 'read_balances'], locations: ['https://bank.example.com/accounts'] }]);
    const denied = randomToken(32);
    await page.goto(authorizeUrl(PARTNER, denied, { authorization_details: details }));
    await emailCode(page, 'consent.user@example.com');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Allow Partner Budgeting?' }).waitFor();
    await expect(page.locator('main').textContent()).resolves.toContain('read_balances');
    await screenshot(page, 'browser-login-consent');
    await page.getByRole('button', { name: 'Deny' }).click();
    expect((await backInApp(page, '/partner/cb')).get('error')).toBe('access_denied');

    const verifier = randomToken(32);
    await page.goto(authorizeUrl(PARTNER, verifier, { authorization_details: details }));
    await emailCode(page, 'consent.user@example.com');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    const back = await backInApp(page, '/partner/cb');
    const res = await redeem(PARTNER, partnerSecret, back.get('code')!, verifier);
    expect(res.status).toBe(200);
  });

  it('passkey: enrolled in one sign-in after an e-mail code (counts from the next), then used alone through Chromium’s virtual authenticator for acr phr', async () => {
    const { page } = browser;
    const authenticator = await addVirtualAuthenticator(page);
    try {
      // First sign-in: phr cannot be met by e-mail; the user adds a passkey.
      await page.goto(authorizeUrl(WEB, randomToken(32), { acr_values: PHR }));
      await emailCode(page, 'passkey.user@example.com');
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('heading', { name: 'One more step' }).waitFor();
      await page.getByRole('button', { name: 'Create a passkey on this device' }).click();
      await page.getByRole('heading', { name: 'Create a passkey' }).waitFor();
      await screenshot(page, 'browser-login-passkey-create');
      await page.getByRole('button', { name: 'Create the passkey' }).click();
      await page.getByText('Added. It can be used from your next sign-in.').waitFor();
      expect(await authenticator.credentialCount()).toBe(1);
      const [stored] = await suite.env.db.query<{ n: string }>("SELECT count(*) AS n FROM user_credentials c JOIN users u ON u.id = c.user_id WHERE u.email = 'passkey.user@example.com'");
      expect(Number(stored.n)).toBe(1);

      // Second sign-in: the passkey alone, discoverable (no e-mail typed).
      const verifier = randomToken(32);
      await page.goto(authorizeUrl(WEB, verifier, { acr_values: PHR }));
      await page.getByRole('button', { name: 'Use a passkey' }).click();
      await page.getByRole('heading', { name: 'Use your passkey' }).waitFor();
      await screenshot(page, 'browser-login-passkey');
      await page.getByRole('button', { name: 'Use my passkey' }).click();
      const back = await backInApp(page, '/cb');
      const res = await redeem(WEB, webSecret, back.get('code')!, verifier);
      expect(res.status).toBe(200);
      const claims = decodeJwtUnverified(res.body.access_token as string).payload;
      expect(claims.acr).toBe(PHR);
      expect(claims.amr).toEqual(expect.arrayContaining(['hwk']));
    } finally {
      await authenticator.cdp.detach().catch(() => undefined);
    }
  });

  it('FIPA-21/22 redirect_to_web: a native request the app cannot complete continues in the browser; the app redeems the code with its DPoP key', async () => {
    const app = await ChallengeClient.create(suite.issuer);
    const native = await app.send({ client_id: NATIVE.client_id, response_type: 'code', scope: 'openid', acr_values: 'urn:first-party-auth:acr:email', code_challenge: app.codeChallenge, code_challenge_method: 'S256' });
    expect(native.status).toBe(403);
    expect(native.body).toMatchObject({ error: 'redirect_to_web', auth_session: expect.any(String), request_uri: expect.stringMatching(/^urn:ietf:params:oauth:request_uri:/) });

    const { page } = browser;
    const q = new URLSearchParams({ client_id: NATIVE.client_id, request_uri: native.body.request_uri as string });
    await page.goto(`${suite.issuer}/authorize?${q}`);
    // The browser offers what the client's web_methods allow, not the app's SMS.
    await expect(page.getByLabel('Mobile number').count()).resolves.toBe(0);
    await emailCode(page, 'native.user@example.com');
    await page.getByRole('button', { name: 'Continue' }).click();
    const back = await backInApp(page, '/native-cb');
    expect(back.get('iss')).toBe(suite.issuer);

    // The code is bound to the app's DPoP key and its PKCE verifier, and continues its auth_session.
    const stranger = await ChallengeClient.create(suite.issuer);
    stranger.verifier = app.verifier;
    const stolen = await stranger.redeem(back.get('code')!, { client_id: NATIVE.client_id }, { redirect_uri: NATIVE.redirect_uris[0] });
    expect(stolen.body.error).toMatch(/invalid_grant|invalid_dpop_proof/);
    const res = await app.redeem(back.get('code')!, { client_id: NATIVE.client_id }, { redirect_uri: NATIVE.redirect_uris[0] });
    expect(res.status).toBe(200);
    expect(res.body.token_type).toBe('DPoP');
    expect(res.body.auth_session).toBe(native.body.auth_session);
    expect(decodeJwtUnverified(res.body.access_token as string).payload.acr).toBe('urn:first-party-auth:acr:email');

    // The request_uri was used once.
    await page.goto(`${suite.issuer}/authorize?${q}`);
    await page.getByText('This sign-in link was already used, has expired, or belongs to another app.').waitFor();
  });

  it('refusals in the browser: a form without its CSRF token, and a form posted to another browser’s flow — nothing sent, nothing stored', async () => {
    const { page } = browser;
    await page.goto(authorizeUrl(WEB, randomToken(32)));
    const sent = smtp.messages.length;
    const authentications = async () => Number((await suite.env.db.query<{ n: string }>('SELECT count(*) AS n FROM user_authentications'))[0].n);
    const before = await authentications();

    // The CSRF token removed from the form.
    await page.evaluate("document.querySelectorAll('input[name=csrf]').forEach((e) => e.remove())");
    await page.getByLabel('Email address').fill('csrf.victim@example.com');
    const [noCsrf] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/authorize/login')), page.getByRole('button', { name: 'Email me a code' }).click()]);
    expect(noCsrf.status()).toBe(403);
    await page.getByText('This form has expired.').waitFor();

    // Another browser (its own profile and cookie) posts this browser's form.
    await page.goto(authorizeUrl(WEB, randomToken(32)));
    const interaction = await page.locator('input[name=interaction]').first().inputValue();
    const csrf = await page.locator('input[name=csrf]').first().inputValue();
    const other = await launchBrowser();
    try {
      await other.page.goto(authorizeUrl(WEB, randomToken(32)));
      const status = await other.page.evaluate(
        async ({ interaction, csrf }) => (await fetch('/authorize/login', { method: 'POST', body: new URLSearchParams({ interaction, csrf, challenge_type: 'email_otp', email: 'cross.flow@example.com' }) })).status,
        { interaction, csrf },
      );
      expect(status).toBe(403);
    } finally {
      await other.close();
    }
    expect(smtp.messages.length).toBe(sent);
    expect(await authentications()).toBe(before);
  });
});
