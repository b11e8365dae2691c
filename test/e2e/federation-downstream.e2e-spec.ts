import { randomUUID } from 'node:crypto';
import { FirstPartyClient } from '@fpa/client-sdk';
import { decodeJwtUnverified, generateClientKeyPair, signJwt, type ClientKeyPair } from '@fpa/crypto';
import { ChallengeClient } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { ASSERTION_TYPE, expectNoStore, expectOAuthError, postForm, type FormResponse } from '../support/http';
import { pushedCount } from '../support/par';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

/**
 * This suite as a downstream server ("AS2", FED-11…16) on PostgreSQL + Redis over HTTP: a federating
 * server ("AS1", a confidential client with private_key_jwt) pushes a request with
 * `native_callback_uri` and `dpop_jkt`; the end user's app posts `client_id` + `request_uri` with
 * its OWN DPoP key, authenticates by e-mail OTP, and gets a code that AS1 redeems with its own key,
 * verifier and assertion. Then `redirect_to_app`: the request is handed to AS2's own app, which
 * completes it and gets the code for AS1 with the native_callback_uri.
 */
const CALLBACK = 'https://app.as1.example/native-callback';
const DEEP_LINK = 'https://app.as2.example/native-authorization';
const AS2_APP = { client_id: 'as2-app', type: 'public', first_party: true, grant_types: ['fp_register', 'client_credentials', 'authorization_code', 'refresh_token'], auth_methods: ['private_key_jwt', 'none'], scopes: ['openid'], dpop_bound_access_tokens: true } as const;
const OTHER_APP = { ...AS2_APP, client_id: 'other-app' } as const;
const PUBLIC_APP = { client_id: 'fp-public', type: 'public', first_party: true, grant_types: ['authorization_code'], auth_methods: ['none'], scopes: ['openid'], native_callback_uris: [CALLBACK] } as const;

describe('downstream server for a federating AS (FED-3/4/8/11/14/15/16; standalone, PostgreSQL + Redis)', () => {
  let suite: RunningApp;
  let smtp: SmtpSink;
  let as1Key: ClientKeyPair;
  let as1Dpop: ClientKeyPair;
  let n = 0;

  const federating = (client_id: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    client_id,
    type: 'confidential',
    auth_methods: ['private_key_jwt'],
    grant_types: ['authorization_code'],
    scopes: ['openid'],
    jwks: { keys: [{ ...as1Key.publicJwk, kid: 'as1' }] },
    native_callback_uris: [CALLBACK],
    // FED-16: what this federating client's callers may be served.
    challenge_policy: { methods: ['email_otp', 'totp'] },
    ...extra,
  });

  beforeAll(async () => {
    [as1Key, as1Dpop] = await Promise.all([generateClientKeyPair('ES256'), generateClientKeyPair('ES256')]);
    smtp = await startSmtpSink();
    suite = await startStandalone('feddown', { SMTP_URL: smtp.url, CHALLENGE_RESEND_SECONDS: '0', PAR_REQUEST_URI_TTL_SECONDS: '60' });
    await suite.createClient(federating('as1'));
    await suite.createClient(federating('as1-other'));
    await suite.createClient(federating('as1-bare', { challenge_policy: undefined }));
    await suite.createClient(federating('as1-handoff', { redirect_to_app: { deep_link: DEEP_LINK, app_client_ids: [AS2_APP.client_id] }, challenge_policy: { methods: ['email_otp'] } }));
    await suite.createClient({ ...AS2_APP });
    await suite.createClient({ ...OTHER_APP });
    await suite.createClient({ ...PUBLIC_APP });
  });
  afterAll(async () => {
    await suite?.close();
    await smtp?.close();
  });

  const now = (): number => suite.clock.nowSeconds();
  /** AS1's client authentication at AS2 (RFC 7523 private_key_jwt), fresh each time. */
  const as1Auth = async (clientId: string): Promise<Record<string, string>> => ({
    client_id: clientId,
    client_assertion_type: ASSERTION_TYPE,
    client_assertion: await signJwt({ iss: clientId, sub: clientId, aud: suite.issuer, iat: now(), exp: now() + 60, jti: randomUUID() }, { alg: as1Key.alg, kid: 'as1', typ: 'client-authentication+jwt' } as Parameters<typeof signJwt>[1], as1Key.privateKey),
  });
  /** AS1's side of one federation: its PKCE verifier and DPoP key (a ChallengeClient only for redeem). */
  const as1Flow = (): Promise<ChallengeClient> => ChallengeClient.create(suite.issuer, undefined, as1Dpop, { clock: suite.clock });
  /** FED-11: AS1 pushes the request (PAR with private_key_jwt), naming its DPoP key for the code (RFC 9449 §10). */
  async function push(clientId: string, as1: ChallengeClient, email: string, extra: Record<string, string> = {}): Promise<FormResponse> {
    const form: Record<string, string> = {
      ...(await as1Auth(clientId)),
      response_type: 'code',
      scope: 'openid',
      code_challenge: as1.codeChallenge,
      code_challenge_method: 'S256',
      login_hint: email,
      native_callback_uri: CALLBACK,
      dpop_jkt: as1Dpop.jkt,
      ...extra,
    };
    for (const [k, v] of Object.entries(form)) if (v === '') delete form[k];
    return postForm(`${suite.issuer}/par`, form);
  }
  const endUserApp = (): Promise<ChallengeClient> => ChallengeClient.create(suite.issuer, undefined, undefined, { clock: suite.clock });
  const redeem = async (as1: ChallengeClient, clientId: string, code: string, key?: ClientKeyPair): Promise<FormResponse> => as1.redeem(code, await as1Auth(clientId), {}, key);
  const sessionRows = async (clientId: string): Promise<number> => Number((await suite.env.db.query<{ n: string }>('SELECT count(*) AS n FROM device_sessions WHERE client_id = $1', [clientId]))[0].n);
  const userId = async (email: string): Promise<string> => (await suite.env.db.query<{ id: string }>('SELECT id FROM users WHERE email = $1', [email]))[0].id;

  it('FED-11: pushed by AS1 (private_key_jwt, dpop_jkt), completed by the end user’s app with its own DPoP key (e-mail OTP), redeemed by AS1 with its key and verifier: tokens for the user', async () => {
    const as1 = await as1Flow();
    const email = `fed-${++n}@example.com`;
    const pushed = await push('as1', as1, email);
    expect(pushed.status).toBe(201);
    const app = await endUserApp();
    const first = await app.send({ client_id: 'as1', request_uri: pushed.body.request_uri as string });
    expect(first.status).toBe(403);
    expectNoStore(first);
    // FED-16: only what AS1's policy lists (totp is listed, but this user holds no authenticator).
    expect(first.body).toMatchObject({ error: 'insufficient_authorization', challenge_type: 'email_otp', status: 'code_sent', methods: ['email_otp'] });
    // FIPA-26: the session is bound to the app's key (kind federated, AS1's client).
    const [row] = await suite.env.db.query<{ kind: string; client_id: string; key_jkt: string }>('SELECT kind, client_id, key_jkt FROM device_sessions WHERE auth_session = $1', [app.authSession]);
    expect(row).toEqual({ kind: 'federated', client_id: 'as1', key_jkt: app.key.jkt });
    // A follow-up with another key is refused.
    const stranger = await ChallengeClient.create(suite.issuer, undefined, undefined, { clock: suite.clock });
    expectOAuthError(await stranger.send({ auth_session: app.authSession!, code: '000000' }), 400, 'invalid_session');

    const done = await app.send({ code: await smtp.code(email) });
    expect(done.status).toBe(200);
    expect(done.body).toEqual({ authorization_code: expect.any(String), auth_session: app.authSession });
    const code = done.body.authorization_code as string;

    // RFC 9449 §10: the code is bound to the pushed key — the app's key is refused, without spending it.
    expectOAuthError(await redeem(as1, 'as1', code, app.key), 400, 'invalid_grant');
    // Another client cannot redeem it either.
    expectOAuthError(await redeem(as1, 'as1-other', code), 400, 'invalid_grant');
    const tokens = await redeem(as1, 'as1', code);
    expect(tokens.status).toBe(200);
    const at = decodeJwtUnverified(tokens.body.access_token as string).payload;
    expect(at).toMatchObject({ sub: await userId(email), client_id: 'as1', cnf: { jkt: as1Dpop.jkt }, auth_session: app.authSession, amr: expect.arrayContaining(['otp', 'email']) });
    expect(tokens.body.token_type).toBe('DPoP');
  });

  it('FED-11 / PAR-10: the request_uri is used once, by the client that pushed it; another client’s use neither works nor burns it; nothing stored on refusal', async () => {
    const as1 = await as1Flow();
    const email = `fed-${++n}@example.com`;
    const requestUri = (await push('as1', as1, email)).body.request_uri as string;
    const before = await sessionRows('as1-other');
    const foreign = await (await endUserApp()).send({ client_id: 'as1-other', request_uri: requestUri });
    expectOAuthError(foreign, 400, 'invalid_request');
    expect(foreign.body.auth_session).toBeUndefined();
    expect(await sessionRows('as1-other')).toBe(before);
    // Parameters beside the pushed ones are refused (they were authenticated at PAR, nothing else is).
    expectOAuthError(await (await endUserApp()).send({ client_id: 'as1', request_uri: requestUri, scope: 'openid' }), 400, 'invalid_request');

    const app = await endUserApp();
    expect((await app.send({ client_id: 'as1', request_uri: requestUri })).status).toBe(403);
    const replay = await (await endUserApp()).send({ client_id: 'as1', request_uri: requestUri });
    expectOAuthError(replay, 400, 'invalid_request');
    expect(replay.body.auth_session).toBeUndefined();
    // A federating client's request must be pushed: a direct request is not taken for it.
    expectOAuthError(await (await endUserApp()).send({ client_id: 'as1', response_type: 'code', code_challenge: as1.codeChallenge, code_challenge_method: 'S256' }), 400, 'unauthorized_client');
  });

  it('FED-3/FED-4: a native_callback_uri not on the allow-list is invalid_request naming it, at PAR (nothing pushed) and at the native endpoint (no session)', async () => {
    const as1 = await as1Flow();
    const count = await pushedCount(suite);
    for (const bad of ['https://evil.example/cb', 'http://app.as1.example/native-callback', `${CALLBACK}#frag`]) {
      const refused = await push('as1', as1, 'x@example.com', { native_callback_uri: bad });
      expectOAuthError(refused, 400, 'invalid_request');
      expect(refused.body.error_description).toMatch(/native_callback_uri/);
    }
    expect(await pushedCount(suite)).toBe(count);

    const before = await sessionRows(PUBLIC_APP.client_id);
    const c = await endUserApp();
    const start = { client_id: PUBLIC_APP.client_id, response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256', login_hint: `fed-${++n}@example.com` };
    const refused = await c.send({ ...start, native_callback_uri: 'https://evil.example/cb' });
    expectOAuthError(refused, 400, 'invalid_request');
    expect(refused.body.error_description).toMatch(/native_callback_uri/);
    expect(refused.body.auth_session).toBeUndefined();
    expect(await sessionRows(PUBLIC_APP.client_id)).toBe(before);
    // The allow-listed one is taken.
    expect((await c.send({ ...start, native_callback_uri: CALLBACK })).status).toBe(403);
  });

  it('FED-16: a federating client’s callers get only the methods its policy lists (none by default: redirect_to_web), and no enrolment', async () => {
    const as1 = await as1Flow();
    const bare = await endUserApp();
    const routed = await bare.send({ client_id: 'as1-bare', request_uri: (await push('as1-bare', as1, `fed-${++n}@example.com`)).body.request_uri as string });
    expect(routed.status).toBe(403);
    expect(routed.body.error).toBe('redirect_to_web');

    const app = await endUserApp();
    expect((await app.send({ client_id: 'as1', request_uri: (await push('as1', as1, `fed-${++n}@example.com`)).body.request_uri as string })).status).toBe(403);
    expectOAuthError(await app.send({ challenge_type: 'sms_otp', phone: '+447700900123' }), 400, 'invalid_request');
    const enrol = await app.send({ challenge_type: 'totp', action: 'enroll' });
    expectOAuthError(enrol, 400, 'invalid_request');
    expect(enrol.body.error_description).toMatch(/FED-16/);
  });

  describe('redirect_to_app (FED-8, FED-14, FED-15)', () => {
    let as2App: FirstPartyClient;
    let otherApp: FirstPartyClient;
    const deviceCaller = async (device: FirstPartyClient): Promise<ChallengeClient> => ChallengeClient.create(suite.issuer, (await device.requestToken()).access_token, device.dpopKey, { clock: suite.clock });

    beforeAll(async () => {
      as2App = await FirstPartyClient.create({ issuer: suite.issuer, clientId: AS2_APP.client_id });
      await as2App.register();
      otherApp = await FirstPartyClient.create({ issuer: suite.issuer, clientId: OTHER_APP.client_id });
      await otherApp.register();
    });

    /** AS1 pushes, the end user's app posts it, AS2 hands over: the deep link's parameters. */
    async function handedOver(email: string, as1: ChallengeClient): Promise<{ clientId: string; requestUri: string; body: Record<string, unknown> }> {
      const pushed = await push('as1-handoff', as1, email);
      const res = await (await endUserApp()).send({ client_id: 'as1-handoff', request_uri: pushed.body.request_uri as string });
      expect(res.status).toBe(400);
      expectNoStore(res);
      const link = new URL(res.body.deep_link as string);
      return { clientId: link.searchParams.get('client_id')!, requestUri: link.searchParams.get('request_uri')!, body: res.body };
    }

    it('FED-8/FED-14: deep link with a single-use handoff; only a listed app takes it; the user authenticates in AS2’s app; the code comes back for AS1 with native_callback_uri', async () => {
      const as1 = await as1Flow();
      const email = `app-${++n}@example.com`;
      const { clientId, requestUri, body } = await handedOver(email, as1);
      expect(body).toMatchObject({ error: 'redirect_to_app', auth_session: expect.any(String), expires_in: 60 });
      expect(String(body.deep_link).startsWith(`${DEEP_LINK}?client_id=as1-handoff&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A`)).toBe(true);
      expect(clientId).toBe('as1-handoff');

      // Not a pushed request: the end user's app cannot use the handoff reference as one (nor burn it).
      expectOAuthError(await (await endUserApp()).send({ client_id: clientId, request_uri: requestUri }), 400, 'invalid_request');
      // An app not listed in redirect_to_app.app_client_ids is refused and burns nothing.
      expectOAuthError(await (await deviceCaller(otherApp)).send({ client_id: clientId, request_uri: requestUri }), 400, 'invalid_request');

      const app = await deviceCaller(as2App);
      const first = await app.send({ client_id: clientId, request_uri: requestUri });
      expect(first.status).toBe(403);
      expect(first.body).toMatchObject({ error: 'insufficient_authorization', challenge_type: 'email_otp', status: 'code_sent' });
      const done = await app.send({ code: await smtp.code(email) });
      expect(done.status).toBe(200);
      expect(done.body).toEqual({ authorization_code: expect.any(String), auth_session: app.authSession, native_callback_uri: CALLBACK });

      // Taken once.
      expectOAuthError(await (await deviceCaller(as2App)).send({ client_id: clientId, request_uri: requestUri }), 400, 'invalid_request');

      // FED-15: the code is AS1's — its client, its pushed key and verifier; AS2's app cannot redeem it.
      const code = done.body.authorization_code as string;
      expectOAuthError(await app.redeem(code, { client_assertion_type: ASSERTION_TYPE, client_assertion: await as2App.clientAssertion() }, {}, as2App.dpopKey), 400, 'invalid_grant');
      const tokens = await redeem(as1, 'as1-handoff', code);
      expect(tokens.status).toBe(200);
      const at = decodeJwtUnverified(tokens.body.access_token as string).payload;
      expect(at).toMatchObject({ sub: await userId(email), client_id: 'as1-handoff', cnf: { jkt: as1Dpop.jkt }, auth_session: body.auth_session });
    });

    it('FED-14: without a native_callback_uri there is no handoff — AS2’s own methods serve the request', async () => {
      const as1 = await as1Flow();
      const pushed = await push('as1-handoff', as1, `app-${++n}@example.com`, { native_callback_uri: '' });
      const res = await (await endUserApp()).send({ client_id: 'as1-handoff', request_uri: pushed.body.request_uri as string });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: 'insufficient_authorization', challenge_type: 'email_otp' });
    });

    it('FED-14: a handoff expires with the PAR lifetime', async () => {
      const { clientId, requestUri } = await handedOver(`app-${++n}@example.com`, await as1Flow());
      suite.clock.advance(61_000);
      expectOAuthError(await (await deviceCaller(as2App)).send({ client_id: clientId, request_uri: requestUri }), 400, 'invalid_request');
    });
  });

  it('PAR-7: an expired request_uri is refused at the native endpoint', async () => {
    const as1 = await as1Flow();
    const requestUri = (await push('as1', as1, `fed-${++n}@example.com`)).body.request_uri as string;
    suite.clock.advance(61_000);
    expectOAuthError(await (await endUserApp()).send({ client_id: 'as1', request_uri: requestUri }), 400, 'invalid_request');
  });
});
