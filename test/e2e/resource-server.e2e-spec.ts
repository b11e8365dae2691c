import { randomBytes } from 'node:crypto';
import { FirstPartyClient, type SdkEvent, type TokenResult } from '@fpa/client-sdk';
import { createDpopProof, decodeJwtUnverified, generateClientKeyPair, generateSigningKey, importPrivateJwk, signJwt, type ClientKeyPair } from '@fpa/crypto';
import { KeyManager } from '@fpa/keys';
import { asNonce, postForm } from '../support/http';
import { DEVICE_CLIENT, spawnApp, type AppProcess } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';

/**
 * The resource-server side: DpopAuthGuard behind the sample API (`GET /api/me`), in the standalone
 * app (local keys) and in the separate sample-api app (remote JWKS, shared Redis).
 * RFC 9449 §7 (DPOP-15, DPOP-23…26, DPOP-28), RFC 9068 §4 (AT-5), RFC 6750 §3, RFC 7009.
 */
describe('resource server: DpopAuthGuard via the sample API', () => {
  let suite: RunningApp;
  let api: string;

  beforeAll(async () => {
    suite = await startStandalone('resourceserver');
    await suite.createClient(DEVICE_CLIENT);
    api = `${suite.issuer}/api/me`;
  });
  afterAll(async () => suite?.close());

  async function device(on: RunningApp = suite, onEvent?: (e: SdkEvent) => void): Promise<{ client: FirstPartyClient; token: TokenResult }> {
    const client = await FirstPartyClient.create({ issuer: on.issuer, clientId: DEVICE_CLIENT.client_id, onEvent });
    await client.register();
    const token = await client.requestToken();
    expect(token.token_type).toBe('DPoP');
    return { client, token };
  }

  interface Call {
    url?: string;
    scheme?: string;
    token?: string;
    /** The DPoP header; `null` = none. Default: a correct proof by `key` for `token`. */
    dpop?: string | null;
    key?: ClientKeyPair;
    method?: string;
  }

  async function call(c: Call): Promise<Response> {
    const url = c.url ?? api;
    const method = c.method ?? 'GET';
    const headers: Record<string, string> = {};
    if (c.token !== undefined) headers.authorization = `${c.scheme ?? 'DPoP'} ${c.token}`;
    const dpop = c.dpop === undefined ? await createDpopProof(c.key!, { htm: method, htu: url, accessToken: c.token }) : c.dpop;
    if (dpop !== null) headers.dpop = dpop;
    return fetch(url, { method, headers });
  }

  /** RFC 6750 §3 / RFC 9449 §7.1 challenge, JSON body with the same code, and DPOP-26 on every 401. */
  async function expectChallenge(res: Response, error: string): Promise<{ header: string; body: Record<string, unknown> }> {
    expect(res.status).toBe(401);
    const header = res.headers.get('www-authenticate') ?? '';
    expect(header.startsWith(`DPoP error="${error}"`)).toBe(true);
    expect(header).toContain(`algs="${suite.config.dpop.algs.join(' ')}"`);
    expectExposed(res);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.error).toBe(error);
    return { header, body };
  }

  /** DPOP-26: a browser caller may read the challenge headers. */
  function expectExposed(res: Response): void {
    const exposed = (res.headers.get('access-control-expose-headers') ?? '').split(',').map((h) => h.trim().toLowerCase());
    expect(exposed).toEqual(expect.arrayContaining(['www-authenticate', 'dpop-nonce']));
  }

  const nowSeconds = (): number => Math.floor(Date.now() / 1000);

  describe('in the standalone app (local keys)', () => {
    let client: FirstPartyClient;
    let token: TokenResult;
    let claims: Record<string, unknown>;

    beforeAll(async () => {
      ({ client, token } = await device());
      claims = decodeJwtUnverified(token.access_token).payload as Record<string, unknown>;
    });

    it('DPOP-23: a valid DPoP call passes and the handler sees auth_session, client_id and the key', async () => {
      const res = await call({ token: token.access_token, key: client.dpopKey });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        auth_session: client.authSession,
        client_id: DEVICE_CLIENT.client_id,
        sub: DEVICE_CLIENT.client_id,
        scope: [...DEVICE_CLIENT.scopes],
        jkt: client.dpopKey.jkt,
      });
      // No RS nonce configured here: none is pushed.
      expect(res.headers.get('dpop-nonce')).toBeNull();
    });

    it('DPOP-24/25: no Authorization → 401 with a DPoP challenge naming algs and no error', async () => {
      const res = await fetch(api);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe(`DPoP algs="${suite.config.dpop.algs.join(' ')}"`);
      expectExposed(res);
      expect(res.headers.get('cache-control')).toBe('no-store');
    });

    it('DPOP-15: a proof whose ath was made for another token → invalid_dpop_proof', async () => {
      const other = await client.requestToken();
      const dpop = await createDpopProof(client.dpopKey, { htm: 'GET', htu: api, accessToken: other.access_token });
      const { header } = await expectChallenge(await call({ token: token.access_token, dpop }), 'invalid_dpop_proof');
      expect(header).toMatch(/ath/);
      // Same key, no ath at all.
      const noAth = await createDpopProof(client.dpopKey, { htm: 'GET', htu: api });
      await expectChallenge(await call({ token: token.access_token, dpop: noAth }), 'invalid_dpop_proof');
    });

    it('DPOP-15: a proof signed by a key other than cnf.jkt (with the right ath) → invalid_dpop_proof', async () => {
      const stranger = await generateClientKeyPair();
      const { header } = await expectChallenge(await call({ token: token.access_token, key: stranger }), 'invalid_dpop_proof');
      expect(header).toMatch(/does not match the access token binding/);
    });

    it('DPOP-25: a DPoP-bound token presented as Bearer (downgrade) → invalid_token', async () => {
      // Even with a perfectly good proof alongside it.
      const { header } = await expectChallenge(await call({ scheme: 'Bearer', token: token.access_token, key: client.dpopKey }), 'invalid_token');
      expect(header).toMatch(/Bearer/);
      await expectChallenge(await call({ scheme: 'Bearer', token: token.access_token, dpop: null }), 'invalid_token');
    });

    it('DPOP-4/23: a DPoP token without a DPoP header → invalid_dpop_proof', async () => {
      await expectChallenge(await call({ token: token.access_token, dpop: null }), 'invalid_dpop_proof');
    });

    it('DPOP-12: a proof with the wrong htu → invalid_dpop_proof', async () => {
      for (const htu of [`${suite.issuer}/api/other`, `http://localhost:${new URL(suite.issuer).port}/api/me`, `https://${new URL(suite.issuer).host}/api/me`]) {
        const dpop = await createDpopProof(client.dpopKey, { htm: 'GET', htu, accessToken: token.access_token });
        const { header } = await expectChallenge(await call({ token: token.access_token, dpop }), 'invalid_dpop_proof');
        expect(header).toMatch(/htu/);
      }
    });

    it('DPOP-11: a proof with the wrong htm → invalid_dpop_proof', async () => {
      const dpop = await createDpopProof(client.dpopKey, { htm: 'POST', htu: api, accessToken: token.access_token });
      const { header } = await expectChallenge(await call({ token: token.access_token, dpop }), 'invalid_dpop_proof');
      expect(header).toMatch(/htm/);
    });

    it('DPOP-14: the same proof twice → the second is invalid_dpop_proof (replay)', async () => {
      const dpop = await createDpopProof(client.dpopKey, { htm: 'GET', htu: api, accessToken: token.access_token });
      expect((await call({ token: token.access_token, dpop })).status).toBe(200);
      const { header } = await expectChallenge(await call({ token: token.access_token, dpop }), 'invalid_dpop_proof');
      expect(header).toMatch(/already used/);
    });

    it('DPOP-14: a proof with an iat outside the window → invalid_dpop_proof', async () => {
      const stale = await createDpopProof(client.dpopKey, { htm: 'GET', htu: api, accessToken: token.access_token, iat: nowSeconds() - 3600 });
      await expectChallenge(await call({ token: token.access_token, dpop: stale }), 'invalid_dpop_proof');
    });

    describe('AT-5: token validation', () => {
      /** Signs `overrides` over the real token's claims with the AS's own key. */
      const forge = async (overrides: Record<string, unknown>, typ = 'at+jwt'): Promise<string> =>
        (await suite.get(KeyManager).sign({ ...claims, jti: randomBytes(16).toString('base64url'), ...overrides }, typ)).token;

      it('control: a token forged with the AS key and valid claims is accepted (the refusals below are about one claim each)', async () => {
        const forged = await forge({ iat: nowSeconds(), exp: nowSeconds() + 300 });
        expect((await call({ token: forged, key: client.dpopKey })).status).toBe(200);
      });

      it('an expired token → invalid_token with error_description about expiry', async () => {
        const expired = await forge({ exp: nowSeconds() - 60, iat: nowSeconds() - 700 });
        const { header, body } = await expectChallenge(await call({ token: expired, key: client.dpopKey }), 'invalid_token');
        expect(header).toMatch(/error_description="[^"]*expired[^"]*"/);
        expect(body.error_description).toMatch(/expired/);
      });

      it('AT-1: typ other than at+jwt (JWT) → invalid_token', async () => {
        const jwt = await forge({}, 'JWT');
        expect(decodeJwtUnverified(jwt).header.typ).toBe('JWT');
        await expectChallenge(await call({ token: jwt, key: client.dpopKey }), 'invalid_token');
      });

      it('a token for another audience → invalid_token', async () => {
        // A real token for the client's other resource (RFC 8707)…
        const other = await client.requestToken({ resource: 'https://api.example.com' });
        expect(decodeJwtUnverified(other.access_token).payload.aud).toBe('https://api.example.com');
        await expectChallenge(await call({ token: other.access_token, key: client.dpopKey }), 'invalid_token');
        // …and a forged one naming a foreign audience.
        await expectChallenge(await call({ token: await forge({ aud: 'https://elsewhere.example.com' }), key: client.dpopKey }), 'invalid_token');
      });

      it('a token from another issuer → invalid_token', async () => {
        await expectChallenge(await call({ token: await forge({ iss: 'https://evil.example.com' }), key: client.dpopKey }), 'invalid_token');
      });

      it('a token signed by a foreign key → invalid_token (unknown kid and the AS kid alike)', async () => {
        const foreign = await generateSigningKey('ES256');
        const key = await importPrivateJwk(foreign.privateJwk, 'ES256');
        const asKid = decodeJwtUnverified(token.access_token).header.kid as string;
        for (const kid of [foreign.kid, asKid]) {
          const forged = await signJwt({ ...claims, iat: nowSeconds(), exp: nowSeconds() + 300 }, { alg: 'ES256', typ: 'at+jwt', kid }, key);
          await expectChallenge(await call({ token: forged, key: client.dpopKey }), 'invalid_token');
        }
      });

      it('a token without cnf (not DPoP-bound) presented as DPoP → invalid_token', async () => {
        const unbound = await forge({ cnf: undefined });
        expect(decodeJwtUnverified(unbound).payload.cnf).toBeUndefined();
        await expectChallenge(await call({ token: unbound, key: client.dpopKey }), 'invalid_token');
      });
    });

    it('RFC 7009: a token revoked at /revoke → invalid_token', async () => {
      const fresh = await client.requestToken();
      expect((await call({ token: fresh.access_token, key: client.dpopKey })).status).toBe(200);
      const revoked = await postForm(`${suite.issuer}/revoke`, { token: fresh.access_token, client_id: DEVICE_CLIENT.client_id });
      expect(revoked.status).toBe(200);
      const { header } = await expectChallenge(await call({ token: fresh.access_token, key: client.dpopKey }), 'invalid_token');
      expect(header).toMatch(/revoked/);
      // The original token of the same session is unaffected.
      expect((await call({ token: token.access_token, key: client.dpopKey })).status).toBe(200);
    });
  });

  describe('DPOP-28: resource-server nonces', () => {
    let rs: RunningApp;
    let rsApi: string;

    beforeAll(async () => {
      // The same secret for AS and RS nonces: only the realm keeps them apart (DPOP-27 "per server").
      const shared = randomBytes(32).toString('base64url');
      rs = await startStandalone('rsnonce', { RS_NONCE_SECRET: shared, DPOP_NONCE_SECRET: shared });
      await rs.createClient(DEVICE_CLIENT);
      rsApi = `${rs.issuer}/api/me`;
    });
    afterAll(async () => rs?.close());

    it('a proof without a nonce → 401 use_dpop_nonce with a DPoP-Nonce; a proof with it → 200', async () => {
      const { client, token } = await device(rs);
      const first = await call({ url: rsApi, token: token.access_token, key: client.dpopKey });
      await expectChallenge(first, 'use_dpop_nonce');
      const nonce = first.headers.get('dpop-nonce');
      expect(nonce).toMatch(/^[A-Za-z0-9_-]+$/);
      const dpop = await createDpopProof(client.dpopKey, { htm: 'GET', htu: rsApi, accessToken: token.access_token, nonce: nonce! });
      const ok = await call({ url: rsApi, token: token.access_token, dpop });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('dpop-nonce')).toEqual(expect.any(String));
      // A made-up nonce is challenged again.
      const bogus = await createDpopProof(client.dpopKey, { htm: 'GET', htu: rsApi, accessToken: token.access_token, nonce: 'A'.repeat(38) });
      await expectChallenge(await call({ url: rsApi, token: token.access_token, dpop: bogus }), 'use_dpop_nonce');
    });

    it('the SDK fetchResource retries once on the challenge and gets 200', async () => {
      const events: SdkEvent[] = [];
      const { client } = await device(rs, (e) => events.push(e));
      const res = await client.fetchResource(rsApi);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ auth_session: client.authSession });
      expect(events.slice(-2)).toEqual([
        { step: 'nonce', server: new URL(rsApi).origin, endpoint: '/api/me' },
        { step: 'resource', url: rsApi, status: 200 },
      ]);
    });

    it('DPOP-27: an AS nonce is not accepted as an RS nonce (nor the other way round)', async () => {
      const { client, token } = await device(rs);
      const asN = await asNonce(rs.issuer);
      const withAsNonce = await createDpopProof(client.dpopKey, { htm: 'GET', htu: rsApi, accessToken: token.access_token, nonce: asN });
      const res = await call({ url: rsApi, token: token.access_token, dpop: withAsNonce });
      await expectChallenge(res, 'use_dpop_nonce');
      const rsNonce = res.headers.get('dpop-nonce')!;
      expect(rsNonce).not.toBe(asN);
      // The RS nonce at the token endpoint is answered with an AS nonce challenge.
      const tokenUrl = `${rs.issuer}/token`;
      const atAs = await postForm(
        tokenUrl,
        { grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await client.clientAssertion() },
        { dpop: await createDpopProof(client.dpopKey, { htm: 'POST', htu: tokenUrl, nonce: rsNonce }) },
      );
      expect(atAs.status).toBe(400);
      expect(atAs.body.error).toBe('use_dpop_nonce');
      expect(atAs.headers.get('dpop-nonce')).not.toBe(rsNonce);
    });
  });

  describe('the sample-api as a separate process (remote JWKS, shared Redis)', () => {
    let child: AppProcess;

    beforeAll(async () => {
      child = await spawnApp('sample-api', { ...suite.env.env, AUTH_ISSUER: suite.issuer, RESOURCE_AUDIENCE: `${suite.issuer}/resources` });
    });
    afterAll(async () => {
      await child?.stop();
    });

    it('accepts a token of the in-process AS over its JWKS, refuses it once revoked at the AS', async () => {
      const { client, token } = await device();
      const remote = `${child.url}/api/me`;
      const ok = await client.fetchResource(remote);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ auth_session: client.authSession, client_id: DEVICE_CLIENT.client_id, jkt: client.dpopKey.jkt });

      // htu is the child's own URL: a proof for the AS's copy of the API is refused there.
      const misdirected = await createDpopProof(client.dpopKey, { htm: 'GET', htu: api, accessToken: token.access_token });
      const wrongHtu = await fetch(remote, { headers: { authorization: `DPoP ${token.access_token}`, dpop: misdirected } });
      expect(wrongHtu.status).toBe(401);
      expect(wrongHtu.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_dpop_proof"/);
      expectExposed(wrongHtu);

      const revoked = await postForm(`${suite.issuer}/revoke`, { token: token.access_token, client_id: DEVICE_CLIENT.client_id });
      expect(revoked.status).toBe(200);
      const refused = await client.fetchResource(remote);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_token"/);
      expectExposed(refused);
    });

    it('refuses a token signed by a key the AS never published', async () => {
      const { client, token } = await device();
      const foreign = await generateSigningKey('ES256');
      const claims = decodeJwtUnverified(token.access_token).payload;
      client.accessToken = await signJwt({ ...claims, jti: randomBytes(16).toString('base64url') }, { alg: 'ES256', typ: 'at+jwt', kid: foreign.kid }, await importPrivateJwk(foreign.privateJwk, 'ES256'));
      const res = await client.fetchResource(`${child.url}/api/me`);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_token"/);
      expectExposed(res);
    });
  });
});
