import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FirstPartyClient } from '@fpa/client-sdk';
import { createDpopProof, decodeJwtUnverified, generateClientKeyPair, signJwt, type ClientKeyPair } from '@fpa/crypto';
import { TokenMetrics } from '@fpa/grants';
import { DEVICE_CLIENT } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { asNonce, ASSERTION_TYPE, expectNoStore, expectOAuthError, postForm, registeredDevice, type FormResponse } from '../support/http';
import { serveJson, startJwksServer, type JwksServer } from '../support/jwks-server';

/**
 * Confidential clients with their own keys (RFC 7523 `private_key_jwt`, RFC 7591 `jwks` /
 * `jwks_uri`; JWTCA-1…9, META-3) through HTTP on the standalone app, PostgreSQL and Redis: the
 * client credentials grant with and without DPoP, introspection by a resource server and
 * revocation, key rotation behind a `jwks_uri` (served from loopback: the app runs in embedded mode
 * on the real stores, where loopback http is allowed), every refusal as 401 invalid_client with
 * nothing issued, and the Basic challenge after an Authorization header (RFC 6749 §5.2).
 */

const b64u = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('private_key_jwt with the client’s own keys (standalone, PostgreSQL + Redis)', () => {
  let suite: RunningApp;
  let jwks: JwksServer;
  let dataDir: string;
  let keyA: ClientKeyPair;
  let keyB: ClientKeyPair;
  let rsKey: ClientKeyPair;
  let dpopKey: ClientKeyPair;
  let device: FirstPartyClient;
  let rsSecret: string;

  beforeAll(async () => {
    [keyA, keyB, rsKey, dpopKey] = await Promise.all([generateClientKeyPair('ES256'), generateClientKeyPair('PS256'), generateClientKeyPair('Ed25519'), generateClientKeyPair('ES256')]);
    jwks = await startJwksServer();
    jwks.route('/svc-remote.jwks', serveJson({ keys: [{ ...keyA.publicJwk, kid: 'a' }] }));
    jwks.route('/rs.jwks', serveJson({ keys: [{ ...rsKey.publicJwk, kid: 'rs' }] }, { 'cache-control': 'max-age=600' }));
    dataDir = mkdtempSync(join(tmpdir(), 'fpa-pkjwt-'));
    suite = await startStandalone('pkjwt', { APP_MODE: 'embedded', DATA_DIR: dataDir });
    const service = { type: 'confidential', auth_methods: ['private_key_jwt'], grant_types: ['client_credentials'], scopes: ['orders.read'] };
    await suite.createClient({ ...service, client_id: 'svc-inline', jwks: { keys: [{ ...keyA.publicJwk, kid: 'a' }] } });
    await suite.createClient({ ...service, client_id: 'svc-remote', jwks_uri: jwks.url('/svc-remote.jwks') });
    // A resource server that introspects with its own key (RFC 7662 §2.1: only such clients may).
    await suite.createClient({ client_id: 'orders-api', type: 'confidential', auth_methods: ['private_key_jwt'], permissions: ['introspect'], jwks_uri: jwks.url('/rs.jwks') });
    rsSecret = (await suite.createClient({ client_id: 'rs-secret', type: 'confidential', permissions: ['introspect'] })).secret!;
    await suite.createClient(DEVICE_CLIENT);
    device = await registeredDevice(suite.issuer, DEVICE_CLIENT.client_id);
  });
  afterAll(async () => {
    await suite?.close();
    await jwks?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const now = (): number => suite.clock.nowSeconds();
  /** An assertion as a client signs it (JWTCA-1…7): iss = sub = client, aud = the issuer, short exp, fresh jti. */
  const assertion = (clientId: string, key: ClientKeyPair, kid: string | undefined, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> =>
    signJwt(
      { iss: clientId, sub: clientId, aud: suite.issuer, iat: now(), exp: now() + 60, jti: randomUUID(), ...claims },
      { alg: key.alg, kid, typ: 'client-authentication+jwt', ...header } as Parameters<typeof signJwt>[1],
      key.privateKey,
    );
  const auth = (a: string): Record<string, string> => ({ client_assertion_type: ASSERTION_TYPE, client_assertion: a });
  const inline = (claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> => assertion('svc-inline', keyA, 'a', claims, header);
  const rs = (): Promise<string> => assertion('orders-api', rsKey, 'rs');

  let nonce: string | undefined;
  /** client_credentials at /token; with `dpop`, a proof by that key (the nonce challenge answered first). */
  async function token(form: Record<string, string>, dpop?: ClientKeyPair, headers: Record<string, string> = {}): Promise<FormResponse> {
    const url = `${suite.issuer}/token`;
    const body = { grant_type: 'client_credentials', ...form };
    if (!dpop) return postForm(url, body, headers);
    for (let attempt = 0; ; attempt++) {
      nonce ??= await asNonce(suite.issuer);
      const res = await postForm(url, body, { ...headers, dpop: await createDpopProof(dpop, { htm: 'POST', htu: url, nonce }) });
      nonce = res.headers.get('dpop-nonce') ?? nonce;
      if (res.body.error === 'use_dpop_nonce' && attempt === 0) continue;
      return res;
    }
  }
  const introspect = (value: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<FormResponse> => postForm(`${suite.issuer}/introspect`, { token: value, ...form }, headers);
  const revoke = (value: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<FormResponse> => postForm(`${suite.issuer}/revoke`, { token: value, ...form }, headers);

  /** Client-authentication failure reasons and access tokens issued, as the app counts them. */
  async function counters(): Promise<{ reasons: Map<string, number>; issued: number }> {
    const metrics = suite.get(TokenMetrics);
    const reasons = new Map<string, number>();
    for (const v of (await metrics.clientAuthFailures.get()).values) reasons.set(String(v.labels.reason), (reasons.get(String(v.labels.reason)) ?? 0) + v.value);
    const issued = (await metrics.tokensIssued.get()).values.reduce((n, v) => n + v.value, 0);
    return { reasons, issued };
  }
  /** A 401 invalid_client for exactly `reason`, with nothing issued meanwhile. */
  async function refused(request: () => Promise<FormResponse>, reason: string): Promise<FormResponse> {
    const before = await counters();
    const res = await request();
    const after = await counters();
    expectOAuthError(res, 401, 'invalid_client');
    const added: string[] = [];
    for (const [k, v] of after.reasons) for (let i = 0; i < v - (before.reasons.get(k) ?? 0); i++) added.push(k);
    expect(added).toEqual([reason]);
    expect(after.issued).toBe(before.issued);
    return res;
  }

  describe('META-1…4: the metadata lists what works', () => {
    it('private_key_jwt with asymmetric algorithms at /token, /introspect and /revoke; never none or HS*', async () => {
      const res = await fetch(`${suite.issuer}/.well-known/oauth-authorization-server`);
      const md = (await res.json()) as Record<string, string[]>;
      expect(md.token_endpoint_auth_methods_supported).toEqual(['private_key_jwt', 'client_secret_basic', 'client_secret_post', 'none']);
      expect(md.introspection_endpoint_auth_methods_supported).toEqual(['private_key_jwt', 'client_secret_basic', 'client_secret_post']);
      expect(md.revocation_endpoint_auth_methods_supported).toEqual(['private_key_jwt', 'client_secret_basic', 'client_secret_post', 'none']);
      for (const member of ['token_endpoint', 'introspection_endpoint', 'revocation_endpoint']) {
        const algs = md[`${member}_auth_signing_alg_values_supported`];
        expect(algs).toEqual(expect.arrayContaining(['ES256', 'PS256', 'EdDSA', 'RS256']));
        expect(algs.filter((a) => a === 'none' || a.startsWith('HS'))).toEqual([]);
      }
    });
  });

  describe('JWTCA-1…8: client credentials, introspection and revocation with the client’s keys', () => {
    it('inline jwks, no DPoP: a Bearer token for the client itself (sub = client, no auth_session, no refresh token)', async () => {
      const res = await token(auth(await inline()));
      expect(res.status).toBe(200);
      expectNoStore(res);
      expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: expect.any(Number), scope: 'orders.read' });
      const claims = decodeJwtUnverified(res.body.access_token as string).payload;
      expect(claims).toMatchObject({ iss: suite.issuer, sub: 'svc-inline', client_id: 'svc-inline', scope: 'orders.read' });
      expect(claims).not.toHaveProperty('auth_session');
      expect(claims).not.toHaveProperty('cnf');
    });

    it('typ JWT, or no typ, is accepted as well as client-authentication+jwt (JWTCA-9: not required)', async () => {
      expect((await token(auth(await inline({}, { typ: 'JWT' })))).status).toBe(200);
      expect((await token(auth(await inline({}, { typ: undefined })))).status).toBe(200);
      await refused(async () => token(auth(await inline({}, { typ: 'at+jwt' }))), 'typ');
    });

    it('jwks_uri with DPoP: a DPoP-bound token; the set is fetched once for both requests', async () => {
      const first = await token(auth(await assertion('svc-remote', keyA, 'a')), dpopKey);
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ token_type: 'DPoP', scope: 'orders.read' });
      expect(decodeJwtUnverified(first.body.access_token as string).payload).toMatchObject({ sub: 'svc-remote', cnf: { jkt: dpopKey.jkt } });
      expect((await token(auth(await assertion('svc-remote', keyA, 'a')), dpopKey)).status).toBe(200);
      expect(jwks.hits('/svc-remote.jwks')).toBe(1);
    });

    it('a resource server introspects with private_key_jwt (by jwks_uri); the client revokes its token with private_key_jwt', async () => {
      const issued = await token(auth(await inline()));
      const accessToken = issued.body.access_token as string;
      const active = await introspect(accessToken, auth(await rs()));
      expect(active.status).toBe(200);
      expectNoStore(active);
      expect(active.body).toMatchObject({ active: true, client_id: 'svc-inline', sub: 'svc-inline', token_type: 'Bearer', scope: 'orders.read' });
      expect(active.body).not.toHaveProperty('auth_session');
      expect((await revoke(accessToken, auth(await inline()))).status).toBe(200);
      expect((await introspect(accessToken, auth(await rs()))).body).toEqual({ active: false });
      // The introspection rule stands: a client without the introspect permission is refused after authenticating.
      expectOAuthError(await introspect(accessToken, auth(await inline())), 400, 'unauthorized_client');
    });
  });

  describe('refusals: 401 invalid_client, nothing issued', () => {
    it('JWTCA-8: a key outside the client’s set, an unknown kid, none, HS256', async () => {
      const stranger = await generateClientKeyPair('ES256');
      await refused(async () => token(auth(await assertion('svc-inline', stranger, 'a'))), 'bad_signature');
      await refused(async () => token(auth(await assertion('svc-inline', stranger, 'zz'))), 'no_matching_key');
      const claims = { iss: 'svc-inline', sub: 'svc-inline', aud: suite.issuer, exp: now() + 60, jti: randomUUID() };
      await refused(() => token(auth(`${b64u({ alg: 'none', kid: 'a' })}.${b64u(claims)}.`)), 'alg_not_allowed');
      const input = `${b64u({ alg: 'HS256', kid: 'a' })}.${b64u({ ...claims, jti: randomUUID() })}`;
      const hs = `${input}.${createHmac('sha256', JSON.stringify({ ...keyA.publicJwk, kid: 'a' })).update(input).digest('base64url')}`;
      await refused(() => token(auth(hs)), 'alg_not_allowed');
    });

    it('JWTCA-4/9: aud must be the issuer alone', async () => {
      await refused(async () => token(auth(await inline({ aud: `${suite.issuer}/token` }))), 'audience');
      await refused(async () => token(auth(await inline({ aud: [suite.issuer, 'https://elsewhere.example'] }))), 'audience');
    });

    it('JWTCA-5: expired, or expiring too far ahead', async () => {
      await refused(async () => token(auth(await inline({ iat: now() - 120, exp: now() - 60 }))), 'expired');
      await refused(async () => token(auth(await inline({ exp: now() + 3600 }))), 'lifetime');
    });

    it('JWTCA-7: one assertion at /token then /introspect, or at /introspect then /token, is accepted once', async () => {
      const a = await inline();
      expect((await token(auth(a))).status).toBe(200);
      await refused(() => introspect('x', auth(a)), 'replay');
      const b = await rs();
      expect((await introspect('x', auth(b))).body).toEqual({ active: false });
      await refused(() => token(auth(b)), 'replay');
    });

    it('a device assertion never takes the key-set path, nor a key-set assertion the device path', async () => {
      // device_auth_session on a confidential client's assertion: the device path, and the session is not its.
      await refused(async () => token(auth(await inline({ device_auth_session: device.authSession }))), 'foreign_session');
      // The device key signing for the key-set client (no session claim): not a key of its set.
      await refused(async () => token(auth(await assertion('svc-inline', device.deviceKey, undefined))), 'bad_signature');
      // A key-set-style assertion for the device client: it has no set, so the claim is required.
      await refused(async () => token(auth(await assertion(DEVICE_CLIENT.client_id, keyA, 'a')), dpopKey), 'no_device_session');
      // The device's own assertion still works as before.
      expect((await token(auth(await device.clientAssertion()), device.dpopKey)).status).toBe(200);
    });
  });

  describe('RFC 6749 §5.2: invalid_client after an Authorization header is 401 with WWW-Authenticate: Basic', () => {
    const basic = (id: string, secret: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });
    const challenged = (res: FormResponse): void => {
      expectOAuthError(res, 401, 'invalid_client');
      expect(res.headers.get('www-authenticate')).toBe('Basic realm="first-party-auth"');
    };

    it('unknown client, a client without client_secret_basic, malformed credentials, another scheme — at /token, /introspect, /revoke', async () => {
      challenged(await refused(() => token({}, undefined, basic('nobody', 'x')), 'unknown_client'));
      challenged(await refused(() => revoke('x', {}, basic('svc-inline', 'guess')), 'bad_secret'));
      challenged(await refused(() => introspect('x', {}, basic('rs-secret', 'wrong')), 'bad_secret'));
      challenged(await refused(() => introspect('x', {}, { authorization: 'Basic !!!' }), 'malformed_basic'));
      challenged(await refused(() => token({}, undefined, { authorization: `Basic ${Buffer.from('no-colon').toString('base64')}` }), 'malformed_basic'));
      challenged(await refused(async () => token(auth(await inline()), undefined, { authorization: 'Bearer abc' }), 'unsupported_scheme'));
      challenged(await refused(() => token({ client_id: 'svc-inline' }, undefined, basic('rs-secret', rsSecret)), 'client_id_mismatch'));
    });

    it('elsewhere too: /register refusing an unknown client after a Basic header', async () => {
      challenged(await postForm(`${suite.issuer}/register`, { client_id: 'nobody', public_key: JSON.stringify(keyA.publicJwk) }, basic('nobody', 'x')));
    });

    it('without the header: still 401, with no challenge', async () => {
      const post = await refused(() => introspect('x', { client_id: 'rs-secret', client_secret: 'wrong' }), 'bad_secret');
      expect(post.headers.get('www-authenticate')).toBeNull();
      const key = await refused(async () => token(auth(await inline({ aud: 'https://elsewhere.example' }))), 'audience');
      expect(key.headers.get('www-authenticate')).toBeNull();
      // And the right secret in the header works.
      expect((await introspect('x', {}, basic('rs-secret', rsSecret))).body).toEqual({ active: false });
    });
  });

  describe('key rotation behind jwks_uri (RFC 7517 §4.5; CLIENT_JWKS_REFETCH_COOLDOWN_SECONDS = 30)', () => {
    afterAll(() => suite.clock.reset());

    it('an unknown kid refetches once; a second unknown kid within the cooldown does not', async () => {
      expect((await revoke('x', auth(await assertion('svc-remote', keyA, 'a')))).status).toBe(200);
      const fetched = jwks.hits('/svc-remote.jwks');
      // The client rotates: B is published beside A, while our cached set (fresh for 300 s) has A only.
      jwks.route('/svc-remote.jwks', serveJson({ keys: [{ ...keyA.publicJwk, kid: 'a' }, { ...keyB.publicJwk, kid: 'b' }] }));
      suite.clock.advance(31_000);
      expect((await revoke('x', auth(await assertion('svc-remote', keyB, 'b')))).status).toBe(200);
      expect(jwks.hits('/svc-remote.jwks')).toBe(fetched + 1);
      // Right after that refetch, other unknown kids cost no fetch.
      await refused(async () => revoke('x', auth(await assertion('svc-remote', keyB, 'c'))), 'no_matching_key');
      await refused(async () => revoke('x', auth(await assertion('svc-remote', keyB, 'd'))), 'no_matching_key');
      expect(jwks.hits('/svc-remote.jwks')).toBe(fetched + 1);
      // Both keys verify now.
      expect((await revoke('x', auth(await assertion('svc-remote', keyA, 'a')))).status).toBe(200);
    });
  });
});
