import { FirstPartyClient } from '@fpa/client-sdk';
import { randomToken, s256CodeChallenge } from '@fpa/crypto';
import { ChallengeClient, DEVICE_CLIENT, parseJsonObject, type FormPoster } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { OpenApiWire, type Json } from '../support/openapi';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

const APP = { ...DEVICE_CLIENT, client_id: 'wire-app', grant_types: ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code'] };
/** A resource server (README "Clients"): introspects and revokes with its secret. */
const RS = { client_id: 'wire-rs', type: 'confidential', auth_methods: ['client_secret_basic', 'client_secret_post'], permissions: ['introspect', 'revoke'] };
const REDIRECT = 'https://web.example.com/cb';
const WEB = { client_id: 'wire-web', name: 'Wire Web', type: 'confidential', first_party: true, auth_methods: ['client_secret_basic'], grant_types: ['authorization_code'], scopes: ['openid'], redirect_uris: [REDIRECT] };
const FORM = 'application/x-www-form-urlencoded';
/** A federating server (FED-11) whose requests this server hands to its own app, wire-app (FED-8/FED-14). */
const FED = {
  client_id: 'wire-fed',
  type: 'confidential',
  auth_methods: ['client_secret_basic'],
  grant_types: ['authorization_code'],
  scopes: ['openid'],
  native_callback_uris: ['https://app.as1.example/cb'],
  redirect_to_app: { deep_link: 'https://app.example.com/native-authorization', app_client_ids: [APP.client_id] },
};

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly json: Json;
}

/**
 * The document matches the wire (issue 9): real requests against the standalone app — the SDK's
 * device flow and challenge loop, a resource server's introspection and revocation, the metadata and
 * the JWK Set, a browser sign-in from its first page to the code's redemption, and refusals at every
 * endpoint — and each real answer's status, media type, body and headers validated against the
 * document with ajv, as is each request the server accepted. Every documented operation is driven.
 */
describe('the OpenAPI document matches the wire (standalone)', () => {
  let suite: RunningApp;
  let smtp: SmtpSink;
  let wire: OpenApiWire;
  let doc: ConstructorParameters<typeof OpenApiWire>[0];
  let problems: string[] = [];
  let rsSecret: string;
  let webSecret: string;
  let fedSecret: string;
  let issuer: string;

  /** fetch, with every exchange judged by the document (the SDK takes it as its `fetch`). */
  const checkedFetch: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    const body = await res.clone().text();
    const sent = new Headers(init?.headers);
    problems.push(
      ...wire.problems({
        method: init?.method ?? 'GET',
        url: String(input),
        status: res.status,
        headers: res.headers,
        body,
        requestContentType: sent.get('content-type') ?? undefined,
        requestBody: typeof init?.body === 'string' ? init.body : undefined,
      }),
    );
    return res;
  };

  async function call(method: string, path: string, options: { form?: Record<string, string>; body?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...(options.form ? { 'content-type': FORM } : {}), ...options.headers };
    const body = options.form ? new URLSearchParams(options.form).toString() : options.body;
    const res = await checkedFetch(`${issuer}${path}`, { method, headers, body, redirect: 'manual' });
    const text = await res.text();
    let json: Json = {};
    try {
      json = JSON.parse(text) as Json;
    } catch {
      // not JSON: a page, an asset, or nothing
    }
    return { status: res.status, headers: res.headers, text, json };
  }

  const basic = (id: string, secret: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });
  const device = (): Promise<FirstPartyClient> => FirstPartyClient.create({ issuer, clientId: APP.client_id, fetch: checkedFetch });
  /** What the document got wrong in this test; cleared for the next. */
  const takeProblems = (): string[] => problems.splice(0);

  beforeAll(async () => {
    smtp = await startSmtpSink();
    suite = await startStandalone('openapiwire', { SMTP_URL: smtp.url, CHALLENGE_RESEND_SECONDS: '0', REGISTRATION_RATE_LIMIT: '25' });
    issuer = suite.issuer;
    await suite.createClient(APP);
    rsSecret = (await suite.createClient(RS)).secret!;
    webSecret = (await suite.createClient(WEB)).secret!;
    fedSecret = (await suite.createClient(FED)).secret!;
    doc = (await (await fetch(`${issuer}/openapi.json`)).json()) as typeof doc;
    wire = new OpenApiWire(doc);
  });
  afterAll(async () => {
    await suite?.close();
    await smtp?.close();
  });
  afterEach(() => {
    problems = [];
  });

  it('discovery: the metadata document and the JWK Set (META-1…4, public keys only)', async () => {
    const md = await call('GET', '/.well-known/oauth-authorization-server');
    expect(md.status).toBe(200);
    expect(md.json.issuer).toBe(issuer);
    const jwks = await call('GET', '/jwks');
    expect(jwks.status).toBe(200);
    expect((jwks.json.keys as unknown[]).length).toBeGreaterThan(0);
    expect(takeProblems()).toEqual([]);
  });

  it('the OpenID Federation entity configuration: a compact JWS, application/entity-statement+jwt (issue 10)', async () => {
    const ec = await call('GET', '/.well-known/openid-federation');
    expect(ec.status).toBe(200);
    expect(ec.headers.get('content-type')).toBe('application/entity-statement+jwt');
    expect(ec.text.split('.')).toHaveLength(3);
    expect(takeProblems()).toEqual([]);
  });

  it('the device flow through the SDK: /register, fp_register, the nonce challenge, client_credentials, refresh, revoke (CONTRACT §3, §4)', async () => {
    const app = await device();
    await app.register({ state: 'wire-state', nonce: 'n-1' });
    await (await device()).register({ via: 'token' });
    await app.requestToken({ scope: 'openid' });
    await app.refresh();
    await app.revoke();
    // The SDK met the nonce challenge first: a 400 use_dpop_nonce with its DPoP-Nonce.
    expect([...wire.seen]).toContain('POST /token 400');
    expect(takeProblems()).toEqual([]);
  });

  it('the challenge loop through the SDK: 403 insufficient_authorization, 200 with a code, its redemption (CONTRACT §5)', async () => {
    const app = await device();
    await app.register();
    await app.requestToken();
    const result = await app.authorize({ loginHint: 'wire@example.com', onChallenge: async () => ({ code: await smtp.code('wire@example.com') }) });
    expect(result.tokens.access_token).toBeDefined();
    expect([...wire.seen]).toEqual(expect.arrayContaining(['POST /authorize-challenge 403', 'POST /authorize-challenge 200']));
    expect(takeProblems()).toEqual([]);
  });

  it('a downstream server: a federating client’s pushed request, 400 redirect_to_app, and this server’s app completing it with native_callback_uri (FED-8/11/14)', async () => {
    const checkedPost: FormPoster = async (url, form, headers = {}) => {
      const res = await checkedFetch(url, { method: 'POST', headers: { 'content-type': FORM, ...headers }, body: new URLSearchParams(form).toString() });
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, text };
    };
    const pushed = await call('POST', '/par', {
      form: { client_id: FED.client_id, response_type: 'code', code_challenge: s256CodeChallenge(randomToken(32)), code_challenge_method: 'S256', login_hint: 'wire-fed@example.com', native_callback_uri: FED.native_callback_uris[0] },
      headers: basic(FED.client_id, fedSecret),
    });
    expect(pushed.status).toBe(201);
    const endUser = await ChallengeClient.create(issuer, undefined, undefined, { post: checkedPost });
    const handed = await endUser.send({ client_id: FED.client_id, request_uri: String(pushed.json.request_uri) });
    expect({ status: handed.status, error: handed.body.error }).toEqual({ status: 400, error: 'redirect_to_app' });
    const link = new URL(String(handed.body.deep_link));
    const app = await device();
    await app.register();
    const token = await app.requestToken();
    const completing = await ChallengeClient.create(issuer, token.access_token, app.dpopKey, { post: checkedPost });
    expect((await completing.send({ client_id: link.searchParams.get('client_id')!, request_uri: link.searchParams.get('request_uri')! })).status).toBe(403);
    const done = await completing.send({ code: await smtp.code('wire-fed@example.com') });
    expect(done.body).toMatchObject({ authorization_code: expect.any(String), native_callback_uri: FED.native_callback_uris[0] });
    expect(takeProblems()).toEqual([]);
  });

  it('introspection and revocation by a resource server (RFC 7662, RFC 7009, DPOP-22)', async () => {
    const app = await device();
    await app.register();
    const tokens = await app.requestToken();
    const rs = basic(RS.client_id, rsSecret);
    const active = await call('POST', '/introspect', { form: { token: tokens.access_token }, headers: rs });
    expect(active.json).toMatchObject({ active: true, token_type: 'DPoP' });
    expect((await call('POST', '/introspect', { form: { token: tokens.refresh_token!, token_type_hint: 'refresh_token' }, headers: rs })).json).toMatchObject({ active: true });
    expect((await call('POST', '/introspect', { form: { token: 'not-a-token', client_id: RS.client_id, client_secret: rsSecret } })).json).toEqual({ active: false });
    expect((await call('POST', '/revoke', { form: { token: tokens.access_token }, headers: rs })).status).toBe(200);
    expect((await call('POST', '/introspect', { form: { token: tokens.access_token }, headers: rs })).json).toEqual({ active: false });
    // Refusals: a public client, no credentials, a bad secret (with the Basic challenge), no token.
    expect((await call('POST', '/introspect', { form: { token: tokens.access_token, client_id: APP.client_id } })).json.error).toBe('unauthorized_client');
    expect((await call('POST', '/introspect', { form: { token: tokens.access_token } })).status).toBe(401);
    const badSecret = await call('POST', '/introspect', { form: { token: 'x' }, headers: basic(RS.client_id, 'wrong') });
    expect([badSecret.status, badSecret.headers.get('www-authenticate')]).toEqual([401, 'Basic realm="first-party-auth"']);
    expect((await call('POST', '/introspect', { form: {}, headers: rs })).json.error).toBe('invalid_request');
    expect((await call('POST', '/revoke', { form: {}, headers: rs })).json.error).toBe('invalid_request');
    expect((await call('POST', '/revoke', { form: { token: 'x' }, headers: basic(RS.client_id, 'wrong') })).status).toBe(401);
    expect(takeProblems()).toEqual([]);
  });

  it('a browser sign-in: the page, the e-mail code, the 303 with code, state and iss, the redemption (RFC 6749 §4.1, RFC 9207)', async () => {
    const verifier = randomToken(32);
    const query = new URLSearchParams({ client_id: WEB.client_id, response_type: 'code', redirect_uri: REDIRECT, code_challenge: s256CodeChallenge(verifier), code_challenge_method: 'S256', state: 'wire-web', scope: 'openid' });
    const first = await call('GET', `/authorize?${query}`);
    expect(first.status).toBe(200);
    const cookie = first.headers.get('set-cookie')!.split(';')[0];
    const hidden = (page: string) => ({ interaction: /name="interaction" value="([^"]+)"/.exec(page)![1], csrf: /name="csrf" value="([^"]+)"/.exec(page)![1] });
    const sent = await call('POST', '/authorize/login', { form: { ...hidden(first.text), challenge_type: 'email_otp', email: 'web@example.com' }, headers: { cookie } });
    expect(sent.status).toBe(200);
    const done = await call('POST', '/authorize/login', { form: { ...hidden(sent.text), code: await smtp.code('web@example.com') }, headers: { cookie } });
    expect(done.status).toBe(303);
    const location = new URL(done.headers.get('location')!);
    expect(Object.fromEntries(location.searchParams)).toEqual({ code: expect.any(String), state: 'wire-web', iss: issuer });
    const token = await call('POST', '/token', { form: { grant_type: 'authorization_code', code: location.searchParams.get('code')!, code_verifier: verifier, redirect_uri: REDIRECT }, headers: basic(WEB.client_id, webSecret) });
    expect(token).toMatchObject({ status: 200, json: { token_type: 'Bearer' } });
    expect(takeProblems()).toEqual([]);
  });

  it('browser refusals: error pages before the redirect URI is trusted, 303 errors after; the login form’s refusals; the assets', async () => {
    const q = (extra: Record<string, string>) => new URLSearchParams({ client_id: WEB.client_id, response_type: 'code', redirect_uri: REDIRECT, state: 's', code_challenge: s256CodeChallenge(randomToken(32)), code_challenge_method: 'S256', ...extra });
    expect((await call('GET', `/authorize?${q({ client_id: 'nobody' })}`)).status).toBe(400);
    expect((await call('GET', `/authorize?${q({ redirect_uri: 'https://evil.example.com/cb' })}`)).status).toBe(400);
    const noPkce = await call('GET', `/authorize?client_id=${WEB.client_id}&response_type=code&redirect_uri=${encodeURIComponent(REDIRECT)}&state=s`);
    expect([noPkce.status, new URL(noPkce.headers.get('location')!).searchParams.get('error')]).toEqual([303, 'invalid_request']);
    const none = await call('GET', `/authorize?${q({ prompt: 'none' })}`);
    expect(new URL(none.headers.get('location')!).searchParams.get('error')).toBe('login_required');

    const page = await call('GET', `/authorize?${q({})}`);
    const cookie = page.headers.get('set-cookie')!.split(';')[0];
    const interaction = /name="interaction" value="([^"]+)"/.exec(page.text)![1];
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)![1];
    expect((await call('POST', '/authorize/login', { body: JSON.stringify({ interaction, csrf }), headers: { 'content-type': 'application/json', cookie } })).json.error).toBe('invalid_request');
    expect((await call('POST', '/authorize/login', { form: { interaction, csrf, challenge_type: 'email_otp', email: 'x@example.com' } })).status).toBe(403);
    expect((await call('POST', '/authorize/login', { form: { interaction: randomToken(16), csrf }, headers: { cookie } })).status).toBe(400);
    const cancelled = await call('POST', '/authorize/login', { form: { interaction, csrf, cancel: '1' }, headers: { cookie } });
    expect(new URL(cancelled.headers.get('location')!).searchParams.get('error')).toBe('access_denied');

    for (const [name, type] of [['login.js', 'text/javascript'], ['login.css', 'text/css'], ['webauthn.js', 'text/javascript']]) {
      expect((await call('GET', `/authorize/assets/${name}`)).headers.get('content-type')).toMatch(new RegExp(`^${type}`));
    }
    expect((await call('GET', '/authorize/assets/nope.js')).status).toBe(404);
    expect(takeProblems()).toEqual([]);
  });

  it('refusals at /register, /token and /authorize-challenge, and what every form endpoint answers to a body too large', async () => {
    expect((await call('POST', '/register', { form: { client_id: 'nobody', public_key: '{}' } })).status).toBe(401);
    expect((await call('POST', '/register', { form: { client_id: APP.client_id } })).json.error).toBe('invalid_request');
    expect((await call('POST', '/register', { form: { client_id: APP.client_id, public_key: JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'd' }) } })).json.error).toBe('invalid_request');
    expect((await call('POST', '/register', { body: '{}', headers: { 'content-type': 'application/json' } })).json.error).toBe('invalid_request');
    expect((await call('POST', '/token', { form: {} })).json.error).toBe('invalid_request');
    expect((await call('POST', '/token', { form: { grant_type: 'password' } })).json.error).toBe('unsupported_grant_type');
    expect((await call('POST', '/token', { form: { grant_type: 'fp_register', client_id: 'nobody', public_key: '{}' } })).status).toBe(401);
    expect((await call('POST', '/token', { form: { grant_type: 'authorization_code', code: 'nope' }, headers: basic(WEB.client_id, webSecret) })).json.error).toBe('invalid_grant');
    const wrong = await call('POST', '/token', { form: { grant_type: 'authorization_code', code: 'nope' }, headers: basic(WEB.client_id, 'wrong') });
    expect([wrong.status, wrong.headers.get('www-authenticate')]).toEqual([401, 'Basic realm="first-party-auth"']);
    expect((await call('POST', '/token', { form: { grant_type: 'client_credentials', client_id: APP.client_id }, headers: { dpop: 'not.a.proof' } })).json.error).toBe('invalid_dpop_proof');
    expect((await call('POST', '/authorize-challenge', { form: { client_id: APP.client_id, response_type: 'code' } })).status).toBe(400);

    // DPOP-27: a proof without the server's nonce is answered 400 use_dpop_nonce with a DPoP-Nonce (the document marks the header optional on 400).
    const app = await device();
    await app.register();
    const assertion = { grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await app.clientAssertion() };
    const challenged = await call('POST', '/token', { form: assertion, headers: { dpop: await app.proof('POST', `${issuer}/token`) } });
    expect([challenged.json.error, challenged.headers.get('dpop-nonce')]).toEqual(['use_dpop_nonce', expect.any(String)]);

    for (const path of ['/register', '/token', '/introspect', '/revoke', '/authorize-challenge', '/authorize/login']) {
      expect([path, (await call('POST', path, { form: { padding: 'x'.repeat(70_000) } })).status]).toEqual([path, 413]);
      expect([path, (await call('POST', path, { body: 'a=b', headers: { 'content-type': `${FORM}; charset=latin9` } })).status]).toEqual([path, 415]);
    }
    // Registration is rate limited per address (REGISTRATION_RATE_LIMIT, lowered for this suite): 429 slow_down with Retry-After.
    let limited: Answer | undefined;
    for (let i = 0; i < 40 && !limited; i++) {
      const res = await call('POST', '/register', { form: { client_id: 'nobody', public_key: '{}' } });
      if (res.status === 429) limited = res;
    }
    expect(limited?.json.error).toBe('slow_down');
    expect(takeProblems()).toEqual([]);
  });

  it('POST /par, once the token service serves it: a push and its refusals (RFC 9126)', async () => {
    const probe = await fetch(`${issuer}/par`, { method: 'POST', headers: { 'content-type': FORM }, body: '' });
    // Until the endpoint lands (another branch), the route does not exist; the document test holds it as pending.
    if (probe.status === 404) return;
    const pushed = await call('POST', '/par', {
      form: { client_id: WEB.client_id, response_type: 'code', redirect_uri: REDIRECT, code_challenge: s256CodeChallenge(randomToken(32)), code_challenge_method: 'S256', state: 'p' },
      headers: basic(WEB.client_id, webSecret),
    });
    expect(pushed.status).toBe(201);
    expect((await call('POST', '/par', { form: { response_type: 'code' }, headers: basic(WEB.client_id, webSecret) })).json.error).toBe('invalid_request');
    expect((await call('POST', '/par', { form: { client_id: WEB.client_id, response_type: 'code' }, headers: basic(WEB.client_id, 'wrong') })).status).toBe(401);
    expect((await call('GET', `/authorize?client_id=${WEB.client_id}&request_uri=${encodeURIComponent(String(pushed.json.request_uri))}`)).status).toBe(200);
    expect(takeProblems()).toEqual([]);
  });

  it('federation (issue 10): insufficient_information at /authorize-challenge, /federation/jwks, and /federation/callback refusals', async () => {
    await suite.createClient({
      client_id: 'wire-routed',
      type: 'public',
      first_party: true,
      auth_methods: ['none'],
      grant_types: ['authorization_code'],
      scopes: ['openid'],
      routing_policy: { rounds: [{ logo: 'https://logos.example/x.png', options: { bank: { title: 'Bank', values: { here: { name: 'Here' } } } } }, { inputs: { email: { title: 'E-mail' } } }], routes: [{ when: { bank: 'here' }, local: true }] },
    });
    const app = await ChallengeClient.create(issuer, undefined, undefined, { post: async (url, form, headers) => {
      const res = await checkedFetch(url, { method: 'POST', headers: { 'content-type': FORM, ...headers }, body: new URLSearchParams(form).toString() });
      const text = await res.text();
      return { status: res.status, headers: res.headers, text, body: parseJsonObject(text) };
    } });
    const asked = await app.send({ client_id: 'wire-routed', response_type: 'code', code_challenge: app.codeChallenge, code_challenge_method: 'S256', scope: 'openid' });
    expect(asked.body.error).toBe('insufficient_information');
    expect((await call('GET', '/federation/jwks')).status).toBe(200);
    expect((await call('POST', '/federation/callback', { form: { authorization_code: 'x' } })).json.error).toBe('invalid_request');
    expect((await call('POST', '/federation/callback', { form: { auth_session: String(asked.body.auth_session), authorization_code: 'x' } })).json.error).toBe('invalid_session');
    expect(takeProblems()).toEqual([]);
  });

  it('the wallet’s OpenID4VP endpoints (issue 11): refusals for an unknown request and a malformed response', async () => {
    const unknown = 'A'.repeat(32);
    expect((await call('GET', `/openid4vp/requests/${unknown}`)).json.error).toBe('invalid_request');
    expect((await call('POST', `/openid4vp/requests/${unknown}`, { form: { wallet_nonce: 'n-1' } })).json.error).toBe('invalid_request');
    expect((await call('POST', '/openid4vp/response', { form: { state: unknown, vp_token: '{}' } })).json.error).toBe('invalid_request');
    expect(takeProblems()).toEqual([]);
  });

  it('every documented operation was driven at least once', () => {
    const driven = new Set([...wire.seen].map((s) => s.split(' ').slice(0, 2).join(' ')));
    const documented = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).filter((k) => /^(get|post|put|delete|patch)$/.test(k)).map((m) => `${m.toUpperCase()} ${path}`));
    const parServed = driven.has('POST /par');
    expect(documented.filter((op) => !driven.has(op) && (parServed || op !== 'POST /par'))).toEqual([]);
  });
});
