import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLE_DETAIL_TYPES } from '@fpa/authz-request';
import { randomToken, s256CodeChallenge } from '@fpa/crypto';
import { ChallengeClient } from '@fpa/testing';
import { startApp, type RunningApp } from '@fpa/testing/app';
import { WebLoginMetrics } from '@fpa/web-login';

const REDIRECT = 'https://app.example.com/cb';
const WEB = {
  client_id: 'web-app',
  name: 'Example Web',
  type: 'confidential',
  first_party: true,
  auth_methods: ['client_secret_basic'],
  grant_types: ['authorization_code'],
  scopes: ['openid', 'profile'],
  redirect_uris: [REDIRECT],
  authorization_details_types: ['payment_initiation'],
};
const PUSH_ONLY = { ...WEB, client_id: 'push-only', require_pushed_authorization_requests: true };
const NATIVE = {
  client_id: 'sms-app',
  type: 'public',
  first_party: true,
  auth_methods: ['none'],
  grant_types: ['authorization_code'],
  scopes: ['openid'],
  dpop_bound_access_tokens: true,
  redirect_uris: ['https://app.example.com/native-cb'],
  challenge_policy: { methods: ['sms_otp'], web_methods: ['email_otp'] },
};

/**
 * `GET /authorize` and `POST /authorize/login` refusals through HTTP (issue 9 item 4): before the
 * redirect URI is trusted, an error is a page and never a redirect (RFC 6749 §4.1.2.1); after, a
 * redirect with `error`, `state` and `iss` (RFC 9207). No refusal stores a session.
 */
describe('browser authorization endpoint: refusals', () => {
  let suite: RunningApp;
  let typesDir: string;

  beforeAll(async () => {
    typesDir = await mkdtemp(join(tmpdir(), 'fpa-rar-'));
    await writeFile(join(typesDir, 'types.json'), JSON.stringify(EXAMPLE_DETAIL_TYPES));
    suite = await startApp({ label: 'weblogin', overrides: { AUTHORIZATION_DETAILS_FILE: join(typesDir, 'types.json') } });
    for (const c of [WEB, PUSH_ONLY, NATIVE]) await suite.createClient(c);
  });
  afterAll(async () => {
    await suite?.close();
    if (typesDir) await rm(typesDir, { recursive: true, force: true });
  });

  const sessions = async (): Promise<number> => Number((await suite.env.db.query<{ n: string }>("SELECT count(*) AS n FROM device_sessions WHERE kind = 'browser'"))[0].n);

  function params(extra: Record<string, string | undefined> = {}): Record<string, string> {
    const p: Record<string, string | undefined> = {
      client_id: WEB.client_id,
      response_type: 'code',
      redirect_uri: REDIRECT,
      scope: 'openid',
      state: 'st-1',
      code_challenge: s256CodeChallenge(randomToken(32)),
      code_challenge_method: 'S256',
      ...extra,
    };
    return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as Record<string, string>;
  }
  const get = (query: string, headers: Record<string, string> = {}) => fetch(`${suite.issuer}/authorize?${query}`, { redirect: 'manual', headers });
  const authorize = (extra: Record<string, string | undefined> = {}) => get(new URLSearchParams(params(extra)).toString());

  async function expectPage(res: Response, status: number, text: RegExp): Promise<void> {
    expect(res.status).toBe(status);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(await res.text()).toMatch(text);
  }
  function expectRedirect(res: Response, error: string): URLSearchParams {
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
    expect(location.searchParams.get('error')).toBe(error);
    expect(location.searchParams.get('iss')).toBe(suite.issuer);
    return location.searchParams;
  }

  it('RFC 6749 §4.1.2.1: an unknown client or a redirect_uri that is not registered exactly is a page, never a redirect', async () => {
    const before = await sessions();
    await expectPage(await authorize({ client_id: 'nobody' }), 400, /not known here/);
    await expectPage(await authorize({ client_id: undefined }), 400, /not known here/);
    for (const uri of [undefined, 'https://evil.example/cb', `${REDIRECT}/`, 'https://APP.example.com/cb', `${REDIRECT}?x=1`, 'https://app.example.com/c']) {
      await expectPage(await authorize({ redirect_uri: uri }), 400, /redirect URI is missing or not registered/);
    }
    expect(await sessions()).toBe(before);
  });

  it('RFC 6749 §3.1: a repeated parameter is refused before anything else', async () => {
    const q = `${new URLSearchParams(params())}&redirect_uri=${encodeURIComponent('https://evil.example/cb')}`;
    await expectPage(await get(q), 400, /repeats a parameter \(redirect_uri\)/);
  });

  it('after the redirect URI is trusted: PKCE missing or plain, response_type, scope, acr, RAR — redirects with error, state and iss; nothing stored', async () => {
    const before = await sessions();
    expect(expectRedirect(await authorize({ code_challenge: undefined, code_challenge_method: undefined }), 'invalid_request').get('state')).toBe('st-1');
    expectRedirect(await authorize({ code_challenge_method: 'plain' }), 'invalid_request');
    expectRedirect(await authorize({ response_type: 'token' }), 'unsupported_response_type');
    expectRedirect(await authorize({ scope: 'openid admin' }), 'invalid_scope');
    expectRedirect(await authorize({ acr_values: 'urn:example:unknown' }), 'invalid_request');
    // RAR-2/3: unknown type, malformed JSON, a member outside the schema, a type not allowed for the client.
    expectRedirect(await authorize({ authorization_details: '[{"type":"unknown_type"}]' }), 'invalid_authorization_details');
    expectRedirect(await authorize({ authorization_details: '[{"type":' }), 'invalid_authorization_details');
    expectRedirect(await authorize({ authorization_details: JSON.stringify([{ type: 'payment_initiation', instructedAmount: { currency: 'EUR', amount: '1.00' }, creditorName: 'A', creditorAccount: { iban: 'DE02100100109307118603' }, extra: 1 }]) }), 'invalid_authorization_details');
    expectRedirect(await authorize({ authorization_details: JSON.stringify([{ type: 'account_information', actions: ['list_accounts'] }]) }), 'invalid_authorization_details');
    // OIDC prompt=none: there is no signed-in user to answer without UI.
    expectRedirect(await authorize({ prompt: 'none' }), 'login_required');
    // PAR-10: a client that must push its requests.
    expectRedirect(await authorize({ client_id: PUSH_ONLY.client_id }), 'invalid_request');
    expect(await sessions()).toBe(before);
  });

  it('the error_description is plain text a browser may show: never a quote, backslash or control character', async () => {
    const res = await authorize({ authorization_details: JSON.stringify([{ type: 'x"\\\u0001' }]) });
    const description = expectRedirect(res, 'invalid_authorization_details').get('error_description')!;
    expect(description).toMatch(/^[\x20-\x21\x23-\x5B\x5D-\x7E]*$/);
  });

  it('PAR-10 / FIPA-22: a pushed request is used once, by its own client; another client, a replay or an expired one is a page', async () => {
    const push = async (): Promise<string> => {
      const app = await ChallengeClient.create(suite.issuer);
      const res = await app.send({ client_id: NATIVE.client_id, response_type: 'code', acr_values: 'urn:first-party-auth:acr:email', code_challenge: app.codeChallenge, code_challenge_method: 'S256' });
      expect(res.body.error).toBe('redirect_to_web');
      return res.body.request_uri as string;
    };
    const open = (clientId: string, requestUri: string) => get(new URLSearchParams({ client_id: clientId, request_uri: requestUri }).toString());

    const requestUri = await push();
    await expectPage(await open(WEB.client_id, requestUri), 400, /already used, has expired, or belongs to another app/);
    // Named by another client, it is not burnt: its own client still opens it, once.
    expect((await open(NATIVE.client_id, requestUri)).status).toBe(200);
    await expectPage(await open(NATIVE.client_id, requestUri), 400, /already used/);
    await expectPage(await open(NATIVE.client_id, 'urn:ietf:params:oauth:request_uri:not-a-reference'), 400, /already used/);

    const expiring = await push();
    suite.clock.advance((suite.config.authorization.parRequestUriTtlSeconds + 1) * 1000);
    try {
      await expectPage(await open(NATIVE.client_id, expiring), 400, /already used, has expired/);
    } finally {
      suite.clock.reset();
    }
  });

  it('POST /authorize/login: form-encoded only, needs its browser’s cookie, its CSRF token and a live interaction', async () => {
    const first = await authorize();
    expect(first.status).toBe(200);
    const cookie = first.headers.get('set-cookie')!.split(';')[0];
    const page = await first.text();
    const interaction = /name="interaction" value="([^"]+)"/.exec(page)![1];
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1];
    const post = (body: string, headers: Record<string, string>) => fetch(`${suite.issuer}/authorize/login`, { method: 'POST', redirect: 'manual', headers, body });
    const form = (extra: Record<string, string>) => new URLSearchParams({ interaction, csrf, challenge_type: 'email_otp', email: 'x@example.com', ...extra }).toString();
    const urlencoded = { 'content-type': 'application/x-www-form-urlencoded' };

    const json = await post(JSON.stringify({ interaction, csrf }), { 'content-type': 'application/json', cookie });
    expect(json.status).toBe(400);
    expect(await json.json()).toMatchObject({ error: 'invalid_request' });
    await expectPage(await post(form({}), urlencoded), 403, /started in another browser/);
    await expectPage(await post(form({}), { ...urlencoded, cookie: `fpa_login=${randomToken(32)}` }), 403, /started in another browser/);
    await expectPage(await post(form({ csrf: 'x' }), { ...urlencoded, cookie }), 403, /This form has expired/);
    await expectPage(await post(form({ interaction: randomToken(16) }), { ...urlencoded, cookie }), 400, /This sign-in has expired/);
    await expectPage(await post(`${form({})}&email=y@example.com`, { ...urlencoded, cookie }), 400, /repeats a field/);

    // Operators see each refusal by reason (fpa_web_login_total).
    const counts = Object.fromEntries((await suite.get(WebLoginMetrics).answers.get()).values.filter((v) => v.labels.step === 'login').map((v) => [v.labels.outcome, v.value]));
    expect(counts).toMatchObject({ refused_binding: 2, refused_csrf: 1, refused_expired: 1, refused_request: 1 });
  });

  it('assets are static and cacheable; an unknown one is a JSON 404', async () => {
    const js = await fetch(`${suite.issuer}/authorize/assets/login.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    const webauthn = await fetch(`${suite.issuer}/authorize/assets/webauthn.js`);
    expect(await webauthn.text()).toContain('SimpleWebAuthnBrowser');
    const missing = await fetch(`${suite.issuer}/authorize/assets/..%2f..%2fpackage.json`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: 'not_found' });
  });
});
