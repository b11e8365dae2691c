import { createSecretKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { hashClientSecret } from '@fpa/clients';
import { generateClientKeyPair, signJwt, type ClientKeyPair } from '@fpa/crypto';
import { OAuthError, type FixedClock } from '@fpa/oauth-core';
import type { Client } from '@fpa/clients';
import type { DeviceSession } from '@fpa/session';
import { MemoryStore } from '@fpa/store';
import { ClientAuthenticator, JWT_BEARER_ASSERTION, type AuthenticateOptions, type CompanionClaim } from './client-authenticator.service';
import { counted, FakeClients, FakeJwksSource, FakeSessions, ISSUER, sessionCache, requestInfo, testClient, testClock, testConfig, testKeySets, testMetrics, testSession } from './testing/fakes';
import type { TokenMetrics } from './token.metrics';

describe('ClientAuthenticator (RFC 7523, JWTCA-1…9, CONTRACT §4)', () => {
  let clock: FixedClock;
  let store: MemoryStore;
  let clients: FakeClients;
  let sessions: FakeSessions;
  let metrics: TokenMetrics;
  let deviceKey: ClientKeyPair;
  let session: DeviceSession;
  let jwksSource: FakeJwksSource;
  const app = testClient();
  const rs = testClient({ id: 'rs', type: 'confidential', authMethods: ['client_secret_basic', 'client_secret_post'], secretHash: hashClientSecret('s3cret'), permissions: ['introspect'] });

  const build = (env: Record<string, string> = {}): ClientAuthenticator =>
    new ClientAuthenticator(testConfig(env), clock, clients, sessionCache(sessions, store, clock, testConfig(env)), store, metrics, testKeySets(testConfig(env), clock, metrics, jwksSource));
  /** One authenticator (and key-set cache) per test for the default configuration. */
  let shared: ClientAuthenticator;
  const authenticator = (env: Record<string, string> = {}): ClientAuthenticator => (Object.keys(env).length > 0 ? build(env) : shared);

  beforeAll(async () => {
    deviceKey = await generateClientKeyPair('ES256');
  });
  beforeEach(() => {
    clock = testClock();
    store = new MemoryStore(() => clock.nowMs(), { genesis: true });
    clients = new FakeClients(app, rs, testClient({ id: 'opted-out', assertionAudience: 'issuer_or_endpoint' }), testClient({ id: 'strict', assertionAudience: 'issuer' }));
    sessions = new FakeSessions();
    metrics = testMetrics().token;
    jwksSource = new FakeJwksSource();
    session = sessions.add(testSession({ keyJkt: deviceKey.jkt, publicJwk: { ...deviceKey.publicJwk, kty: 'EC' } }));
    shared = build();
  });
  afterEach(async () => store.close());

  const now = (): number => clock.nowSeconds();
  const assertion = (claims: Record<string, unknown> = {}, clientId = app.id, authSession = session.authSession): Promise<string> =>
    signJwt(
      { iss: clientId, sub: clientId, aud: ISSUER, iat: now(), exp: now() + 60, jti: randomUUID(), device_auth_session: authSession, ...claims },
      { alg: 'ES256', typ: 'client-authentication+jwt' },
      deviceKey.privateKey,
    );
  const form = (a: string): Record<string, string> => ({ client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: a });
  const auth = (a: string, path = '/token', options: AuthenticateOptions = {}, env: Record<string, string> = {}) => authenticator(env).authenticate(form(a), requestInfo(), path, options);
  const refused = async (p: Promise<unknown>, reason: string, code = 'invalid_client'): Promise<void> => {
    await expect(p).rejects.toBeInstanceOf(OAuthError);
    await expect(p).rejects.toMatchObject({ code, reason: code === 'invalid_client' ? `client_auth_${reason}` : reason });
  };

  describe('the device assertion (private_key_jwt keyed by device_auth_session)', () => {
    it('authenticates the client with its device session, and nothing else leaks out', async () => {
      const result = await auth(await assertion());
      expect(result).toEqual({ client: app, method: 'private_key_jwt', deviceSession: session });
    });

    it('JWTCA-1: client_id must agree with iss; the assertion type must be jwt-bearer', async () => {
      const a = await assertion();
      await refused(authenticator().authenticate({ ...form(a), client_id: 'rs' }, requestInfo(), '/token'), 'client_id_mismatch');
      await refused(authenticator().authenticate({ client_assertion: a, client_assertion_type: 'urn:x' }, requestInfo(), '/token'), 'assertion_type');
      await refused(auth('not.a.jwt'), 'malformed');
    });

    it('JWTCA-8: signed by another key → bad_signature; the reason is counted in metrics', async () => {
      const other = await generateClientKeyPair('ES256');
      const forged = await signJwt({ iss: app.id, sub: app.id, aud: ISSUER, exp: now() + 60, jti: 'x', device_auth_session: session.authSession }, { alg: 'ES256' }, other.privateKey);
      await refused(auth(forged), 'bad_signature');
      expect(await counted(metrics.clientAuthFailures, { method: 'private_key_jwt', reason: 'bad_signature' })).toBe(1);
    });

    it('CONTRACT §4: unknown, foreign, challenge-kind, expired or revoked sessions; unknown clients; clients without private_key_jwt', async () => {
      await refused(auth(await assertion({ device_auth_session: undefined })), 'no_device_session');
      await refused(auth(await assertion({}, app.id, 'x'.repeat(43))), 'unknown_session');
      const foreign = sessions.add(testSession({ clientId: 'rs', keyJkt: deviceKey.jkt, publicJwk: session.publicJwk }));
      await refused(auth(await assertion({}, app.id, foreign.authSession)), 'foreign_session');
      const challenge = sessions.add(testSession({ kind: 'challenge', publicJwk: session.publicJwk }));
      await refused(auth(await assertion({}, app.id, challenge.authSession)), 'not_device_session');
      sessions.add({ ...session, expiresAt: new Date(clock.nowMs() - 1) });
      await refused(auth(await assertion()), 'session_expired');
      sessions.add({ ...session, status: 'revoked' });
      await refused(auth(await assertion()), 'session_expired');
      await refused(auth(await assertion({}, 'nobody')), 'unknown_client');
      clients.byId.set(app.id, { ...app, authMethods: ['none'] });
      await refused(auth(await assertion()), 'method_not_allowed');
    });
  });

  describe('JWTCA-7: claiming the jti is part of authenticating', () => {
    it('the same assertion is accepted once, at whichever endpoint first', async () => {
      const a = await assertion();
      await expect(auth(a, '/revoke')).resolves.toMatchObject({ client: app });
      await refused(auth(a, '/token'), 'replay');
      await refused(auth(a, '/introspect'), 'replay');
    });

    it('a new assertion reusing a spent jti is refused', async () => {
      const jti = randomUUID();
      await auth(await assertion({ jti }));
      await refused(auth(await assertion({ jti, iat: now() - 1 })), 'replay');
    });

    it('the companion (a DPoP proof jti) is claimed in the same round trip; its replay is its own error', async () => {
      const spy = jest.spyOn(store, 'claimEachOnce');
      const replayed = new OAuthError('invalid_dpop_proof', 'replay', { reason: 'dpop_replay' });
      const companion: CompanionClaim = { claim: { key: 'proof-jti', ttlSeconds: 60 }, refuse: () => replayed };
      await auth(await assertion(), '/token', { companion: Promise.resolve(companion) });
      expect(spy).toHaveBeenCalledTimes(1);
      expect(spy.mock.calls[0][0]).toEqual([expect.objectContaining({ key: expect.stringMatching(/^jti:assert:/) }), companion.claim]);
      const again = auth(await assertion(), '/token', { companion: Promise.resolve(companion) });
      await expect(again).rejects.toBe(replayed);
    });

    it('a rejected companion (the DPoP nonce challenge) is reported first — before a bad assertion — and spends nothing', async () => {
      const nonce = new OAuthError('use_dpop_nonce', 'nonce', { reason: 'nonce_missing' });
      await expect(auth(await assertion({ aud: 'https://evil.example.com' }), '/token', { companion: Promise.reject(nonce) })).rejects.toBe(nonce);
      const a = await assertion();
      await expect(auth(a, '/token', { companion: Promise.reject(nonce) })).rejects.toBe(nonce);
      await expect(auth(a, '/token', { companion: Promise.resolve(undefined) })).resolves.toMatchObject({ client: app });
    });

    it('a store outage fails the authentication (nothing is accepted that cannot be replay-protected)', async () => {
      jest.spyOn(store, 'claimEachOnce').mockRejectedValue(new OAuthError('temporarily_unavailable', 'store down'));
      await expect(auth(await assertion())).rejects.toMatchObject({ code: 'temporarily_unavailable' });
    });
  });

  describe('JWTCA-5/6: time claims (CLOCK_SKEW_SECONDS = 5)', () => {
    it('iat a year ahead, or 30 s ahead, is refused; 5 s ahead is accepted', async () => {
      await refused(auth(await assertion({ iat: now() + 365 * 86_400 })), 'iat_future');
      await refused(auth(await assertion({ iat: now() + 30 })), 'iat_future');
      await refused(auth(await assertion({ iat: now() + 6 })), 'iat_future');
      await expect(auth(await assertion({ iat: now() + 5 }))).resolves.toMatchObject({ client: app });
    });

    it('nbf beyond the skew is refused, within it accepted', async () => {
      await refused(auth(await assertion({ nbf: now() + 30 })), 'not_yet_valid');
      await expect(auth(await assertion({ nbf: now() + 5 }))).resolves.toMatchObject({ client: app });
    });

    it('expired, expiring too far ahead, issued too long ago, or without exp/jti', async () => {
      await refused(auth(await assertion({ exp: now() - 10 })), 'expired');
      await refused(auth(await assertion({ exp: now() + 400 })), 'lifetime');
      await refused(auth(await assertion({ iat: now() - 400 })), 'stale');
      await refused(auth(await assertion({ exp: undefined })), 'claim_invalid');
      await refused(auth(await assertion({ jti: undefined })), 'claim_invalid');
    });
  });

  describe('JWTCA-9: audience', () => {
    it('strict by default: the issuer alone (string or one-element array); the endpoint URL is refused', async () => {
      await expect(auth(await assertion({ aud: ISSUER }))).resolves.toMatchObject({ client: app });
      await expect(auth(await assertion({ aud: [ISSUER] }))).resolves.toMatchObject({ client: app });
      await refused(auth(await assertion({ aud: `${ISSUER}/token` })), 'audience');
      await refused(auth(await assertion({ aud: [ISSUER, `${ISSUER}/token`] })), 'audience');
    });

    it('a client with assertion_audience issuer_or_endpoint: the URL of this endpoint too, never another one', async () => {
      const as = (aud: unknown): Promise<string> => assertion({ aud }, 'opted-out', sessions.add(testSession({ clientId: 'opted-out', publicJwk: session.publicJwk })).authSession);
      await expect(auth(await as(`${ISSUER}/token`), '/token')).resolves.toMatchObject({ client: { id: 'opted-out' } });
      await expect(auth(await as(`${ISSUER}/revoke`), '/revoke')).resolves.toMatchObject({ client: { id: 'opted-out' } });
      await refused(auth(await as(`${ISSUER}/revoke`), '/token'), 'audience');
    });

    it('an assertion whose key claims are not identifiers (NUL, lone surrogate, not a string, too long) is refused before any lookup', async () => {
      const clientLookups = jest.spyOn(clients, 'find');
      const sessionLookups = jest.spyOn(sessions, 'find');
      for (const claims of [
        { iss: '\u0000', sub: '\u0000' },
        { iss: `${app.id}\u0000` },
        { device_auth_session: `${session.authSession}\u0000` },
        { device_auth_session: `${session.authSession}\ud800` },
        { jti: 42 },
        { jti: 'j\u009b' },
        { sub: ['native-app'] },
        { client_id: 'x'.repeat(1025) },
      ]) {
        await refused(auth(await assertion(claims)), 'malformed');
      }
      expect(clientLookups).not.toHaveBeenCalled();
      expect(sessionLookups).not.toHaveBeenCalled();
      // A kid in the header is a key-set lookup key too.
      const withKid = await signJwt({ iss: app.id, sub: app.id, aud: ISSUER, iat: now(), exp: now() + 60, jti: randomUUID(), device_auth_session: session.authSession }, { alg: 'ES256', kid: 'k\u0000' }, deviceKey.privateKey);
      await refused(auth(withKid), 'malformed');
    });

    it('ASSERTION_STRICT_AUDIENCE=false is the default for clients without the field; a client with "issuer" stays strict', async () => {
      const lenient = { ASSERTION_STRICT_AUDIENCE: 'false' };
      await expect(auth(await assertion({ aud: `${ISSUER}/token` }), '/token', {}, lenient)).resolves.toMatchObject({ client: app });
      const strictSession = sessions.add(testSession({ clientId: 'strict', publicJwk: session.publicJwk }));
      await refused(auth(await assertion({ aud: `${ISSUER}/token` }, 'strict', strictSession.authSession), '/token', {}, lenient), 'audience');
    });
  });

  describe("private_key_jwt with the client's own keys (RFC 7523 §3, RFC 7591 jwks / jwks_uri)", () => {
    const JWKS_URI = 'https://svc.example.com/jwks';
    let svcKey: ClientKeyPair;
    let rotated: ClientKeyPair;
    let svc: Client;
    let remote: Client;
    beforeAll(async () => {
      [svcKey, rotated] = await Promise.all([generateClientKeyPair('ES256'), generateClientKeyPair('PS256')]);
    });
    beforeEach(() => {
      svc = testClient({ id: 'svc', type: 'confidential', authMethods: ['private_key_jwt'], jwks: { keys: [{ ...svcKey.publicJwk, kid: 'svc-1' }] } });
      remote = testClient({ id: 'remote', type: 'confidential', authMethods: ['private_key_jwt'], jwksUri: JWKS_URI, permissions: ['introspect'] });
      clients.byId.set(svc.id, svc);
      clients.byId.set(remote.id, remote);
      jwksSource.serve(JWKS_URI, { keys: [{ ...svcKey.publicJwk, kid: 'svc-1' }] });
    });
    const signed = (clientId: string, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}, key: ClientKeyPair = svcKey): Promise<string> =>
      signJwt(
        { iss: clientId, sub: clientId, aud: ISSUER, iat: now(), exp: now() + 60, jti: randomUUID(), ...claims },
        { alg: key.alg, kid: 'svc-1', typ: 'client-authentication+jwt', ...header } as Parameters<typeof signJwt>[1],
        key.privateKey,
      );

    it('inline jwks: a key of the set authenticates the client; no device session is involved', async () => {
      await expect(auth(await signed('svc'))).resolves.toEqual({ client: svc, method: 'private_key_jwt', deviceSession: undefined });
      await expect(auth(await signed('svc', {}, { typ: 'JWT' }))).resolves.toMatchObject({ client: svc });
      await expect(auth(await signed('svc', {}, { typ: undefined, kid: undefined }))).resolves.toMatchObject({ client: svc });
      await refused(auth(await signed('svc', {}, { typ: 'at+jwt' })), 'typ');
    });

    it('jwks_uri: fetched once, then served from the cache', async () => {
      await expect(auth(await signed('remote'), '/introspect')).resolves.toMatchObject({ client: remote, method: 'private_key_jwt' });
      await expect(auth(await signed('remote'), '/revoke')).resolves.toMatchObject({ client: remote });
      expect(jwksSource.fetches).toEqual([JWKS_URI]);
    });

    it('JWTCA-8: a key outside the set, none and HS256 are refused', async () => {
      const stranger = await generateClientKeyPair('ES256');
      await refused(auth(await signed('svc', {}, { kid: undefined }, stranger)), 'bad_signature');
      await refused(auth(await signed('svc', {}, {}, stranger)), 'bad_signature');
      const none = `${Buffer.from(JSON.stringify({ alg: 'none', kid: 'svc-1' })).toString('base64url')}.${Buffer.from(JSON.stringify({ iss: 'svc', sub: 'svc', aud: ISSUER, exp: now() + 60, jti: randomUUID() })).toString('base64url')}.`;
      await refused(auth(none), 'alg_not_allowed');
      // HS256 keyed with the public key's bytes (the classic confusion) or any secret.
      const hs = await signJwt({ iss: 'svc', sub: 'svc', aud: ISSUER, exp: now() + 60, jti: randomUUID() }, { alg: 'HS256', kid: 'svc-1' }, createSecretKey(Buffer.from(JSON.stringify(svcKey.publicJwk))));
      await refused(auth(hs), 'alg_not_allowed');
      expect(jwksSource.fetches).toEqual([]);
    });

    it('JWTCA-2/3/4/5/6/9: the same claim checks as a device assertion', async () => {
      await refused(auth(await signed('svc', { sub: 'other' })), 'claim_invalid');
      await refused(auth(await signed('svc', { aud: `${ISSUER}/token` })), 'audience');
      await refused(auth(await signed('svc', { exp: now() - 10 })), 'expired');
      await refused(auth(await signed('svc', { exp: now() + 400 })), 'lifetime');
      await refused(auth(await signed('svc', { iat: now() + 30 })), 'iat_future');
      await refused(auth(await signed('svc', { jti: undefined })), 'claim_invalid');
    });

    it('JWTCA-7: the jti is spent at whichever endpoint saw it first', async () => {
      const a = await signed('remote');
      await expect(auth(a, '/token')).resolves.toMatchObject({ client: remote });
      await refused(auth(a, '/introspect'), 'replay');
    });

    it('the claim decides the path: device_auth_session means the device key, never the key set, and the reverse', async () => {
      // A key-set client naming a device session: the device path, which knows no such session.
      await refused(auth(await signed('svc', { device_auth_session: session.authSession })), 'foreign_session');
      // A first-party client with both a key set and devices.
      const both = { ...app, jwks: { keys: [{ ...svcKey.publicJwk, kid: 'svc-1' }] } };
      clients.byId.set(app.id, both);
      await expect(auth(await signed(app.id))).resolves.toEqual({ client: both, method: 'private_key_jwt', deviceSession: undefined });
      await expect(auth(await assertion())).resolves.toEqual({ client: both, method: 'private_key_jwt', deviceSession: session });
      // The key-set key cannot stand in for the device key, nor the device key for the set.
      await refused(auth(await signed(app.id, { device_auth_session: session.authSession })), 'bad_signature');
      await refused(auth(await signed(app.id, {}, { kid: undefined }, deviceKey)), 'bad_signature');
      // Without a key set, a device client's assertion needs the claim (as before).
      clients.byId.set(app.id, app);
      await refused(auth(await signed(app.id)), 'no_device_session');
    });

    it('a confidential client without any key set cannot use private_key_jwt; a stored set with private keys is unusable', async () => {
      clients.byId.set('bare', testClient({ id: 'bare', type: 'confidential', authMethods: ['private_key_jwt'] }));
      await refused(auth(await signed('bare')), 'no_key_set');
      const privateJwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
      clients.byId.set('leaky', testClient({ id: 'leaky', type: 'confidential', authMethods: ['private_key_jwt'], jwks: { keys: [privateJwk] } }));
      await refused(auth(await signed('leaky')), 'jwks_private_key');
    });

    it('jwks_uri failures are invalid_client with the fetch failure as reason, never another error', async () => {
      jwksSource.fail(JWKS_URI, 'timeout');
      await refused(auth(await signed('remote')), 'jwks_uri_timeout');
      clock.advance(30);
      jwksSource.fail(JWKS_URI, 'private_key');
      await refused(auth(await signed('remote')), 'jwks_uri_private_key');
      expect(await counted(metrics.clientAuthFailures, { method: 'private_key_jwt', reason: 'jwks_uri_private_key' })).toBe(1);
    });

    it('key rotation: an unknown kid refetches once; another unknown kid within the cooldown does not', async () => {
      await expect(auth(await signed('remote'))).resolves.toMatchObject({ client: remote });
      clock.advance(31);
      jwksSource.serve(JWKS_URI, { keys: [{ ...svcKey.publicJwk, kid: 'svc-1' }, { ...rotated.publicJwk, kid: 'svc-2' }] });
      await expect(auth(await signed('remote', {}, { kid: 'svc-2' }, rotated))).resolves.toMatchObject({ client: remote });
      expect(jwksSource.fetches).toHaveLength(2);
      await refused(auth(await signed('remote', {}, { kid: 'svc-3' }, rotated)), 'no_matching_key');
      expect(jwksSource.fetches).toHaveLength(2);
    });
  });

  describe('secrets and public clients', () => {
    const basic = (id: string, secret: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });
    const withHeaders = (f: Record<string, string>, headers: Record<string, string> = {}) => authenticator().authenticate(f, requestInfo(headers), '/introspect');

    it('client_secret_basic and client_secret_post', async () => {
      await expect(withHeaders({}, basic('rs', 's3cret'))).resolves.toEqual({ client: rs, method: 'client_secret_basic' });
      await expect(withHeaders({ client_id: 'rs', client_secret: 's3cret' })).resolves.toEqual({ client: rs, method: 'client_secret_post' });
    });

    it('a wrong secret is invalid_client, with WWW-Authenticate when the header was used (GEN-1)', async () => {
      const p = withHeaders({}, basic('rs', 'wrong'));
      await refused(p, 'bad_secret');
      await expect(p).rejects.toMatchObject({ headers: { 'WWW-Authenticate': 'Basic realm="first-party-auth"' } });
      await refused(withHeaders({ client_id: 'rs', client_secret: 'wrong' }), 'bad_secret');
      await refused(withHeaders({ client_id: 'nobody', client_secret: 's3cret' }), 'unknown_client');
      await refused(withHeaders({ client_id: 'app' }, basic('rs', 's3cret')), 'client_id_mismatch');
    });

    it('RFC 6749 §5.2: every invalid_client after an Authorization header carries the Basic challenge; none without the header', async () => {
      const challenged = async (p: Promise<unknown>, reason: string): Promise<void> => {
        await refused(p, reason);
        await expect(p).rejects.toMatchObject({ status: 401, headers: { 'WWW-Authenticate': 'Basic realm="first-party-auth"' } });
      };
      await challenged(withHeaders({}, basic('nobody', 's3cret')), 'unknown_client');
      // A client registered without client_secret_basic (the device client) cannot use it.
      await challenged(withHeaders({}, basic(app.id, 's3cret')), 'bad_secret');
      await challenged(withHeaders({ client_id: 'app' }, basic('rs', 's3cret')), 'client_id_mismatch');
      for (const header of ['Basic', 'Basic ', 'Basic !!!', `Basic ${Buffer.from('no-colon').toString('base64')}`, `Basic ${Buffer.from(':s3cret').toString('base64')}`, `Basic ${Buffer.from('%zz:x').toString('base64')}`]) {
        await challenged(withHeaders({}, { authorization: header }), 'malformed_basic');
      }
      await challenged(withHeaders({}, { authorization: 'Bearer abc' }), 'unsupported_scheme');
      await challenged(withHeaders(form(await assertion()), { authorization: 'DPoP abc' }), 'unsupported_scheme');
      const post = withHeaders({ client_id: 'rs', client_secret: 'wrong' });
      await refused(post, 'bad_secret');
      expect(((await post.catch((e: unknown) => e)) as OAuthError).headers).toEqual({});
      expect(await counted(metrics.clientAuthFailures, { method: 'client_secret_basic', reason: 'malformed_basic' })).toBe(6);
    });

    it('a Basic credential no store can hold (NUL, controls, invalid UTF-8, over-long) is invalid_client with WWW-Authenticate; the registry is never asked', async () => {
      const lookups = jest.spyOn(clients, 'find');
      const raw = (bytes: Buffer): Record<string, string> => ({ authorization: `Basic ${bytes.toString('base64')}` });
      for (const headers of [
        basic('rs\u0000', 's3cret'),
        basic('%00', 's3cret'),
        basic('rs', 's3cret%00'),
        basic('r\u0085s', 's3cret'),
        basic('rs%0A', 's3cret'),
        basic('r'.repeat(1025), 's3cret'),
        raw(Buffer.from([0x72, 0xff, 0x73, 0x3a, 0x73])),
      ]) {
        const p = withHeaders({}, headers);
        await expect(p).rejects.toMatchObject({ code: 'invalid_client', reason: 'input_text', headers: { 'WWW-Authenticate': 'Basic realm="first-party-auth"' } });
      }
      expect(lookups).not.toHaveBeenCalled();
    });

    it('two methods at once are invalid_request', async () => {
      await expect(withHeaders({ client_id: 'rs', client_secret: 's3cret', ...form(await assertion()) })).rejects.toMatchObject({ code: 'invalid_request' });
    });

    it('none: a public client by client_id; a confidential client must authenticate; no client_id at all is invalid_client', async () => {
      await expect(withHeaders({ client_id: app.id })).resolves.toEqual({ client: app, method: 'none' });
      await refused(withHeaders({ client_id: 'rs' }), 'method_not_allowed');
      await refused(withHeaders({}), 'missing_client_id');
      clients.byId.set(app.id, { ...app, enabled: false });
      await refused(withHeaders({ client_id: app.id }), 'unknown_client');
    });
  });
});
