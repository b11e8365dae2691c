import { createDpopProof, decodeJwtUnverified, generateClientKeyPair, randomToken, s256CodeChallenge, type ClientKeyPair } from '@fpa/crypto';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { Browser } from '../support/form-browser';
import { expectNoStore, expectOAuthError, postForm, rawPost, type FormResponse } from '../support/http';
import { authorizationDetailsFile, balances, basic, createParClients, dpopPoster, OTHER_WEB, payment, pushedCount, RS, SPA, WEB } from '../support/par';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

/**
 * Pushed authorization requests (RFC 9126) through HTTP on real PostgreSQL and Redis: `POST /par`
 * with client_secret_basic and with a public client's client_id, PKCE, RAR and a DPoP proof; the
 * browser login consuming the request_uri; the code exchange with the same DPoP key; and every
 * refusal, each leaving no pushed request behind.
 */
describe('PAR (standalone, PostgreSQL + Redis)', () => {
  let suite: RunningApp;
  let smtp: SmtpSink;
  let secrets: Record<string, string>;
  let withProof: ReturnType<typeof dpopPoster>;
  let n = 0;

  beforeAll(async () => {
    smtp = await startSmtpSink();
    suite = await startStandalone('par', { SMTP_URL: smtp.url, CHALLENGE_RESEND_SECONDS: '0', AUTHORIZATION_DETAILS_FILE: authorizationDetailsFile() });
    secrets = await createParClients(suite);
    withProof = dpopPoster(suite);
  });
  afterAll(async () => {
    await suite?.close();
    await smtp?.close();
  });

  const webAuth = (id: string = WEB.client_id): Record<string, string> => ({ authorization: basic(id, secrets[id]) });
  /** A complete authorization request of `client` (PKCE S256), with `extra` over it. */
  const request = (client: { client_id: string; redirect_uris: readonly string[] }, verifier: string, extra: Record<string, string> = {}): Record<string, string> => ({
    client_id: client.client_id,
    response_type: 'code',
    redirect_uri: client.redirect_uris[0],
    code_challenge: s256CodeChallenge(verifier),
    code_challenge_method: 'S256',
    scope: 'openid payments',
    state: `state-${++n}`,
    ...extra,
  });
  const push = (form: Record<string, string>, headers: Record<string, string> = webAuth()): Promise<FormResponse> => postForm(`${suite.issuer}/par`, form, headers);
  const introspect = async (token: string): Promise<Record<string, unknown>> => (await postForm(`${suite.issuer}/introspect`, { token }, { authorization: basic(RS.client_id, secrets[RS.client_id]) })).body;

  /** PAR-6: 201 {request_uri, expires_in}, no-store. */
  function pushed(res: FormResponse): string {
    expect({ status: res.status, body: res.body }).toEqual({ status: 201, body: { request_uri: expect.stringMatching(/^urn:ietf:params:oauth:request_uri:[A-Za-z0-9_-]{43}$/), expires_in: 60 } });
    expectNoStore(res);
    return res.body.request_uri as string;
  }

  /** Refused at /par with `error`, and no pushed request stored. */
  async function refusedPush(send: () => Promise<FormResponse>, status: number, error: string): Promise<void> {
    const before = await pushedCount(suite);
    expectOAuthError(await send(), status, error);
    expect(await pushedCount(suite)).toBe(before);
  }

  it('META-4 / PAR-1 / RAR-8: metadata names the PAR endpoint, whether pushing is required, and the RAR types', async () => {
    const md = (await (await fetch(`${suite.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(md).toMatchObject({
      pushed_authorization_request_endpoint: `${suite.issuer}/par`,
      require_pushed_authorization_requests: false,
      authorization_details_types_supported: ['payment_initiation', 'account_information'],
    });
  });

  it('PAR-3/6/7, RAR-6/7, DPOP-31: confidential client (client_secret_basic) pushes PKCE + RAR with a DPoP proof → browser login and consent → code exchanged with the same key → details in the token response, the access token and introspection; a refresh keeps them', async () => {
    const key = await generateClientKeyPair();
    const verifier = randomToken(32);
    const form = request(WEB, verifier, { authorization_details: JSON.stringify([payment(), balances]) });
    const res = await withProof('/par', form, key, webAuth());
    const requestUri = pushed(res);
    // DPOP-27: the current nonce comes back with the answer.
    expect(res.headers.get('dpop-nonce')).toEqual(expect.any(String));

    const browser = new Browser(suite.issuer);
    expect((await browser.authorize({ client_id: WEB.client_id, request_uri: requestUri })).status).toBe(200);
    const email = `par-web-${n}@example.com`;
    const { redirect, consentPage } = await browser.signIn(email, smtp);
    // RAR-3: the consent screen shows what is asked, details included.
    expect(consentPage).toContain('payment_initiation');
    expect(consentPage).toContain('Merchant A');
    expect(`${redirect.origin}${redirect.pathname}`).toBe(WEB.redirect_uris[0]);
    expect(Object.fromEntries(redirect.searchParams)).toEqual({ code: expect.any(String), state: form.state, iss: suite.issuer });
    const code = redirect.searchParams.get('code')!;

    const exchange = { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: WEB.redirect_uris[0] };
    // DPOP-30/31: the code is bound to the key of the proof at PAR — another key, or none, is refused, and leaves the code usable.
    expectOAuthError(await withProof('/token', exchange, await generateClientKeyPair(), webAuth()), 400, 'invalid_grant');
    expectOAuthError(await postForm(`${suite.issuer}/token`, exchange, webAuth()), 400, 'invalid_grant');
    const tokens = await withProof('/token', exchange, key, webAuth());
    expect(tokens.status).toBe(200);
    expect(tokens.body).toMatchObject({ token_type: 'DPoP', authorization_details: [payment(), balances], refresh_token: expect.any(String) });
    const claims = decodeJwtUnverified(tokens.body.access_token as string).payload;
    expect(claims).toMatchObject({ client_id: WEB.client_id, cnf: { jkt: key.jkt }, authorization_details: [payment(), balances] });
    expect(await introspect(tokens.body.access_token as string)).toMatchObject({ active: true, authorization_details: [payment(), balances] });

    // RAR-5 at refresh: a subset, then — the grant being unchanged — everything again.
    const narrowed = await withProof('/token', { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string, authorization_details: JSON.stringify([balances]) }, key, webAuth());
    expect(narrowed.status).toBe(200);
    expect(narrowed.body.authorization_details).toEqual([balances]);
    expect(decodeJwtUnverified(narrowed.body.access_token as string).payload.authorization_details).toEqual([balances]);
    const again = await withProof('/token', { grant_type: 'refresh_token', refresh_token: narrowed.body.refresh_token as string }, key, webAuth());
    expect(again.body.authorization_details).toEqual([payment(), balances]);
  });

  it('PAR-3 / RAR-5: a public client pushes with client_id only; the code exchange narrows the details; broader ones are refused without spending the code', async () => {
    const key = await generateClientKeyPair();
    const verifier = randomToken(32);
    const [a, b] = [payment('Merchant A', '10.00'), payment('Merchant B', '20.00')];
    const requestUri = pushed(await withProof('/par', request(SPA, verifier, { authorization_details: JSON.stringify([a, b]) }), key, {}));
    const browser = new Browser(suite.issuer);
    expect((await browser.authorize({ client_id: SPA.client_id, request_uri: requestUri })).status).toBe(200);
    const { redirect } = await browser.signIn(`par-spa-${n}@example.com`, smtp);
    const code = redirect.searchParams.get('code')!;

    const exchange = { grant_type: 'authorization_code', client_id: SPA.client_id, code, code_verifier: verifier, redirect_uri: SPA.redirect_uris[0] };
    // RAR-5: an object that was not granted, or a granted one edited, is invalid_authorization_details.
    expectOAuthError(await withProof('/token', { ...exchange, authorization_details: JSON.stringify([a, payment('Merchant C')]) }, key), 400, 'invalid_authorization_details');
    expectOAuthError(await withProof('/token', { ...exchange, authorization_details: JSON.stringify([{ ...a, instructedAmount: { currency: 'EUR', amount: '10000.00' } }]) }, key), 400, 'invalid_authorization_details');
    const tokens = await withProof('/token', { ...exchange, authorization_details: JSON.stringify([b]) }, key);
    expect(tokens.status).toBe(200);
    expect(tokens.body.authorization_details).toEqual([b]);
    expect(decodeJwtUnverified(tokens.body.access_token as string).payload.authorization_details).toEqual([b]);
    // The refresh token stands for the whole grant (RFC 9396 §6.1), and cannot widen it either.
    expect(await introspect(tokens.body.refresh_token as string)).toMatchObject({ active: true, authorization_details: [a, b] });
    expectOAuthError(await withProof('/token', { grant_type: 'refresh_token', client_id: SPA.client_id, refresh_token: tokens.body.refresh_token as string, authorization_details: JSON.stringify([payment('Merchant C')]) }, key), 400, 'invalid_authorization_details');
    const refreshed = await withProof('/token', { grant_type: 'refresh_token', client_id: SPA.client_id, refresh_token: tokens.body.refresh_token as string }, key);
    expect(refreshed.body.authorization_details).toEqual([a, b]);
  });

  describe('refusals at /par: the right error, nothing stored', () => {
    const verifier = randomToken(32);

    it('PAR-2: request_uri in the body is invalid_request; a request object is request_not_supported', async () => {
      await refusedPush(() => push(request(WEB, verifier, { request_uri: `urn:ietf:params:oauth:request_uri:${randomToken(32)}` })), 400, 'invalid_request');
      await refusedPush(() => push(request(WEB, verifier, { request: 'eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9.' })), 400, 'request_not_supported');
    });

    it('DPOP-31: dpop_jkt that differs from the proof’s key is invalid_request', async () => {
      const [key, other] = await Promise.all([generateClientKeyPair(), generateClientKeyPair()]);
      await refusedPush(() => withProof('/par', request(WEB, verifier, { dpop_jkt: other.jkt }), key, webAuth()), 400, 'invalid_request');
    });

    it('RAR-4 / RAR-8: unknown, malformed and not-allowed-for-this-client authorization_details are invalid_authorization_details', async () => {
      const bad = [
        [{ type: 'wire_transfer', amount: 1 }],
        [{ ...payment(), creditorName: 42 }],
        [{ ...payment(), unknown_member: 'x' }],
        [{ type: 'payment_initiation', creditorName: 'missing the rest' }],
      ];
      for (const details of bad) await refusedPush(() => push(request(WEB, verifier, { authorization_details: JSON.stringify(details) })), 400, 'invalid_authorization_details');
      for (const raw of ['{"type":"payment_initiation"}', '[', '[]', 'null']) await refusedPush(() => push(request(WEB, verifier, { authorization_details: raw })), 400, 'invalid_authorization_details');
      // The SPA may ask for payments only.
      await refusedPush(() => push(request(SPA, verifier, { authorization_details: JSON.stringify([balances]) }), {}), 400, 'invalid_authorization_details');
    });

    it('PAR-5 / PAR-9: redirect_uri not registered, not exact, or missing is invalid_request', async () => {
      for (const uri of ['https://evil.example.com/cb', 'https://web.example.com/cb/', 'https://web.example.com/cb?x=1', 'https://WEB.example.com/cb']) {
        await refusedPush(() => push(request(WEB, verifier, { redirect_uri: uri })), 400, 'invalid_request');
      }
      const { redirect_uri: _none, ...withoutRedirect } = request(WEB, verifier);
      await refusedPush(() => push(withoutRedirect), 400, 'invalid_request');
    });

    it('GEN-2: PKCE missing or plain is invalid_request', async () => {
      const { code_challenge: _c, code_challenge_method: _m, ...noPkce } = request(WEB, verifier);
      await refusedPush(() => push(noPkce), 400, 'invalid_request');
      await refusedPush(() => push(request(WEB, verifier, { code_challenge: verifier, code_challenge_method: 'plain' })), 400, 'invalid_request');
    });

    it('PAR-3: a wrong secret is 401 invalid_client with WWW-Authenticate; a confidential client without credentials is invalid_client; client_id is required', async () => {
      const res = await push(request(WEB, verifier), { authorization: basic(WEB.client_id, 'wrong') });
      expectOAuthError(res, 401, 'invalid_client');
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
      await refusedPush(() => push(request(WEB, verifier), {}), 401, 'invalid_client');
      const { client_id: _id, ...noClientId } = request(WEB, verifier);
      await refusedPush(() => push(noClientId), 400, 'invalid_request');
      // client_id must name the authenticated client.
      await refusedPush(() => push(request(OTHER_WEB, verifier)), 401, 'invalid_client');
    });

    it('CONTRACT §2 / PAR-8: a repeated parameter or another content type is invalid_request; GET is 405; odd input is never a 5xx', async () => {
      const body = new URLSearchParams(request(WEB, verifier)).toString();
      await refusedPush(() => rawPost(`${suite.issuer}/par`, `${body}&scope=openid`, { 'content-type': 'application/x-www-form-urlencoded', ...webAuth() }), 400, 'invalid_request');
      await refusedPush(() => rawPost(`${suite.issuer}/par`, JSON.stringify(request(WEB, verifier)), { 'content-type': 'application/json', ...webAuth() }), 400, 'invalid_request');
      const get = await fetch(`${suite.issuer}/par`);
      expect(get.status).toBe(405);
      expect(get.headers.get('allow')).toBe('POST');
      const odd: Record<string, string>[] = [
        { authorization_details: 'x'.repeat(9000) },
        { state: 'line\nbreak' },
        { max_age: '-1' },
        { resource: 'not a uri' },
        { dpop_jkt: '../../etc' },
        { acr_values: '__proto__' },
        { prompt: 'none login' },
        { scope: '\u0000' },
      ];
      for (const extra of odd) {
        const res = await push(request(WEB, verifier, extra));
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
      }
      const proofed = await postForm(`${suite.issuer}/par`, request(WEB, verifier), { ...webAuth(), dpop: 'not.a.jwt' });
      expectOAuthError(proofed, 400, 'invalid_dpop_proof');
    });
  });

  describe('PAR-10: a request_uri is used once, by its client, while it lives', () => {
    const start = async (clientId: string, requestUri: string) => new Browser(suite.issuer).authorize({ client_id: clientId, request_uri: requestUri });

    it('used once: the second GET /authorize with it is an error page', async () => {
      const requestUri = pushed(await push(request(WEB, randomToken(32))));
      expect((await start(WEB.client_id, requestUri)).status).toBe(200);
      const again = await start(WEB.client_id, requestUri);
      expect(again.status).toBe(400);
      expect(again.html).toContain('already used');
    });

    it('bound to the client that pushed it: another client is refused and does not burn it', async () => {
      const requestUri = pushed(await push(request(WEB, randomToken(32))));
      expect((await start(OTHER_WEB.client_id, requestUri)).status).toBe(400);
      expect((await start(WEB.client_id, requestUri)).status).toBe(200);
    });

    it('expired by the server clock after expires_in', async () => {
      const requestUri = pushed(await push(request(WEB, randomToken(32))));
      suite.clock.advance(60_000);
      try {
        expect((await start(WEB.client_id, requestUri)).status).toBe(400);
      } finally {
        suite.clock.reset();
      }
    });

    it('a DPoP proof at PAR for another htu, or without the nonce, never yields a request_uri', async () => {
      const key: ClientKeyPair = await generateClientKeyPair();
      const form = request(WEB, randomToken(32));
      const noNonce = await postForm(`${suite.issuer}/par`, form, { ...webAuth(), dpop: await createDpopProof(key, { htm: 'POST', htu: `${suite.issuer}/par` }) });
      expectOAuthError(noNonce, 400, 'use_dpop_nonce');
      expect(noNonce.headers.get('dpop-nonce')).toEqual(expect.any(String));
      const nonce = noNonce.headers.get('dpop-nonce')!;
      await refusedPush(() => postForm(`${suite.issuer}/par`, form, { ...webAuth(), dpop: '' }), 400, 'invalid_dpop_proof');
      const wrongHtu = createDpopProof(key, { htm: 'POST', htu: `${suite.issuer}/token`, nonce });
      await refusedPush(async () => postForm(`${suite.issuer}/par`, form, { ...webAuth(), dpop: await wrongHtu }), 400, 'invalid_dpop_proof');
    });
  });

  describe('PAR-10: pushing required', () => {
    it('per client (require_pushed_authorization_requests): a request that was not pushed is redirected back with invalid_request; a pushed one starts the login', async () => {
      const verifier = randomToken(32);
      const plain = await new Browser(suite.issuer).authorize(request(SPA, verifier));
      expect(plain.status).toBe(303);
      const back = new URL(plain.location!);
      expect(`${back.origin}${back.pathname}`).toBe(SPA.redirect_uris[0]);
      expect(back.searchParams.get('error')).toBe('invalid_request');
      expect(back.searchParams.get('iss')).toBe(suite.issuer);
      const requestUri = pushed(await push(request(SPA, verifier), {}));
      expect((await new Browser(suite.issuer).authorize({ client_id: SPA.client_id, request_uri: requestUri })).status).toBe(200);
      // A client that is not required to push may still send its parameters directly.
      expect((await new Browser(suite.issuer).authorize(request(WEB, verifier))).status).toBe(200);
    });

    it('globally (REQUIRE_PUSHED_AUTHORIZATION_REQUESTS=true): every client, and the metadata says so', async () => {
      const strict = await startStandalone('parreq', { REQUIRE_PUSHED_AUTHORIZATION_REQUESTS: 'true', AUTHORIZATION_DETAILS_FILE: authorizationDetailsFile() });
      try {
        const strictSecrets = await createParClients(strict);
        const md = (await (await fetch(`${strict.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
        expect(md.require_pushed_authorization_requests).toBe(true);
        const verifier = randomToken(32);
        const plain = await new Browser(strict.issuer).authorize(request(WEB, verifier));
        expect(plain.status).toBe(303);
        expect(new URL(plain.location!).searchParams.get('error')).toBe('invalid_request');
        const res = await postForm(`${strict.issuer}/par`, request(WEB, verifier), { authorization: basic(WEB.client_id, strictSecrets[WEB.client_id]) });
        expect(res.status).toBe(201);
        expect((await new Browser(strict.issuer).authorize({ client_id: WEB.client_id, request_uri: res.body.request_uri as string })).status).toBe(200);
      } finally {
        await strict.close();
      }
    });
  });
});
