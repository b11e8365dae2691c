import { createHmac, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { FirstPartyClient } from '@fpa/client-sdk';
import { createDpopProof, DpopNonces, generateClientKeyPair, signJwt, type ClientKeyPair, type DpopProofInput, type JWK } from '@fpa/crypto';
import { DpopMetrics } from '@fpa/dpop';
import { TokenMetrics } from '@fpa/grants';
import { asNonce, ASSERTION_TYPE, clientCredentialsForm, expectNoStore, expectOAuthError, type FormResponse, postForm, rawPost, registeredDevice } from '../support/http';
import { DEVICE_CLIENT } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';

/**
 * Every refusal of the token endpoint for the device flow (CONTRACT §2, §4; seed 000 (C)/(D),
 * seed 002, seed 004): client authentication with the device assertion (RFC 7523 / rfc7523bis,
 * JWTCA-*) and DPoP at the authorization server (RFC 9449, DPOP-*), against the standalone app on
 * real PostgreSQL and Redis. Each refusal asserts status, `error`, `Cache-Control: no-store` and
 * that no token was issued.
 */

const b64u = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** A compact JWS with HMAC-SHA256 (what an attacker would send); never accepted by the suite. */
function hs256(header: Record<string, unknown>, payload: Record<string, unknown>, secret: string | Buffer): string {
  const input = `${b64u(header)}.${b64u(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

function expectToken(res: FormResponse): void {
  expect(res.status).toBe(200);
  expectNoStore(res);
  expect(res.body).toMatchObject({ token_type: 'DPoP', access_token: expect.any(String) });
  // DPOP-27: a fresh nonce travels with every successful token response.
  expect(res.headers.get('dpop-nonce')).toMatch(/^[A-Za-z0-9_-]{38}$/);
}

/** Failure reasons counted by the app (fpa_dpop_failures_total, fpa_client_auth_failures_total), as `dpop:<reason>` / `auth:<reason>`. */
async function failureCounts(app: RunningApp): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const [prefix, counter] of [
    ['dpop', app.get(DpopMetrics).failures],
    ['auth', app.get(TokenMetrics).clientAuthFailures],
  ] as const) {
    for (const v of (await counter.get()).values) {
      const key = `${prefix}:${String(v.labels.reason)}`;
      out.set(key, (out.get(key) ?? 0) + v.value);
    }
  }
  return out;
}

/** Which failure reasons a request added: pins each refusal to the check that should make it. */
async function reasonsOf<T>(app: RunningApp, request: () => Promise<T>): Promise<{ result: T; reasons: string[] }> {
  const before = await failureCounts(app);
  const result = await request();
  const after = await failureCounts(app);
  const reasons: string[] = [];
  for (const [k, v] of after) for (let i = 0; i < v - (before.get(k) ?? 0); i++) reasons.push(k);
  return { result, reasons: reasons.sort() };
}

describe('token endpoint refusals (standalone, PostgreSQL + Redis)', () => {
  let suite: RunningApp;
  let device: FirstPartyClient;
  let nonce: string;

  const tokenUrl = (): string => `${suite.issuer}/token`;
  const issued = async (): Promise<number> => Number((await suite.env.db.query<{ n: string }>('SELECT count(*) AS n FROM refresh_tokens'))[0].n);
  const proof = (input: Partial<DpopProofInput> = {}, key: ClientKeyPair = device.dpopKey): Promise<string> =>
    createDpopProof(key, { htm: 'POST', htu: tokenUrl(), nonce, ...input });
  const send = (form: Record<string, string>, dpop?: string): Promise<FormResponse> => postForm(tokenUrl(), form, dpop === undefined ? {} : { dpop });
  /** A client_credentials request with a fresh assertion of `dev` (claims overridable) and a valid proof. */
  const ccRequest = async (claims: Record<string, unknown> = {}, extra: Record<string, string> = {}, dev: FirstPartyClient = device, proofInput: Partial<DpopProofInput> = {}): Promise<FormResponse> =>
    send(await clientCredentialsForm(dev, claims, extra), await proof(proofInput, dev.dpopKey));

  /**
   * Sends a refused request; proves no token was issued and that exactly the expected failure
   * reasons were counted (`[]` for refusals outside DPoP and client authentication).
   */
  async function expectRefused(request: () => Promise<FormResponse>, status: number, error: string, reasons: string[]): Promise<FormResponse> {
    const before = await issued();
    const { result: res, reasons: counted } = await reasonsOf(suite, request);
    expectOAuthError(res, status, error);
    expect(counted).toEqual([...reasons].sort());
    expect(await issued()).toBe(before);
    return res;
  }
  /** The same request with a raw assertion string in place of the device's. */
  const withAssertion = async (assertion: string, extra: Record<string, string> = {}): Promise<FormResponse> =>
    send({ grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: assertion, ...extra }, await proof());
  const claimsOf = (overrides: Record<string, unknown> = {}): Record<string, unknown> => {
    const now = Math.floor(Date.now() / 1000);
    return {
      iss: DEVICE_CLIENT.client_id,
      sub: DEVICE_CLIENT.client_id,
      aud: suite.issuer,
      iat: now,
      exp: now + 60,
      jti: randomUUID(),
      device_auth_session: device.authSession,
      ...overrides,
    };
  };

  beforeAll(async () => {
    suite = await startStandalone('tokenrefusals', { REGISTRATION_RATE_LIMIT: '100000' });
    await suite.createClient(DEVICE_CLIENT);
    await suite.createClient({ ...DEVICE_CLIENT, client_id: 'other-app', name: 'Another first-party app' });
    device = await registeredDevice(suite.issuer, DEVICE_CLIENT.client_id);
  });
  beforeEach(async () => {
    nonce = await asNonce(suite.issuer);
  });
  afterAll(async () => suite?.close());

  it('control: the well-formed request is accepted (so every refusal below is caused by its one defect)', async () => {
    const res = await ccRequest();
    expectToken(res);
    expect(res.body.auth_session).toBe(device.authSession);
  });

  describe('client authentication with the device assertion (CONTRACT §4)', () => {
    it('JWTCA-2 unknown client (assertion iss/sub) → 401 invalid_client', async () => {
      await expectRefused(() => ccRequest({ iss: 'no-such-client', sub: 'no-such-client' }), 401, 'invalid_client', ['auth:unknown_client']);
    });

    it('GEN-1 unknown client with Authorization: Basic → 401 invalid_client + WWW-Authenticate', async () => {
      const res = await expectRefused(
        async () => postForm(tokenUrl(), { grant_type: 'client_credentials' }, { authorization: `Basic ${Buffer.from('no-such-client:secret').toString('base64')}`, dpop: await proof() }),
        401,
        'invalid_client',
        ['auth:unknown_client'],
      );
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    });

    it('JWTCA-8 assertion signed with another key pair → 401 invalid_client', async () => {
      const other = await generateClientKeyPair('ES256');
      const assertion = await signJwt(claimsOf(), { alg: 'ES256', typ: 'client-authentication+jwt' }, other.privateKey);
      await expectRefused(() => withAssertion(assertion), 401, 'invalid_client', ['auth:bad_signature']);
    });

    it('JWTCA-8 assertion with a tampered payload (signature no longer matches) → 401 invalid_client', async () => {
      const [h, , s] = (await device.clientAssertion()).split('.');
      await expectRefused(() => withAssertion(`${h}.${b64u(claimsOf({ scope: 'admin' }))}.${s}`), 401, 'invalid_client', ['auth:bad_signature']);
    });

    it('JWTCA-8 alg none assertion → 401 invalid_client', async () => {
      const unsigned = `${b64u({ alg: 'none', typ: 'JWT' })}.${b64u(claimsOf())}.`;
      await expectRefused(() => withAssertion(unsigned), 401, 'invalid_client', ['auth:alg_not_allowed']);
    });

    it('JWTCA-8 HS256 assertion keyed with a random secret → 401 invalid_client', async () => {
      await expectRefused(() => withAssertion(hs256({ alg: 'HS256', typ: 'JWT' }, claimsOf(), randomBytes(32))), 401, 'invalid_client', ['auth:alg_not_allowed']);
    });

    it('JWTCA-8 HS256 assertion keyed with the device public key (algorithm confusion) → 401 invalid_client', async () => {
      for (const secret of [JSON.stringify(device.deviceKey.publicJwk), Buffer.from(String(device.deviceKey.publicJwk.x), 'base64url')]) {
        await expectRefused(() => withAssertion(hs256({ alg: 'HS256', typ: 'JWT' }, claimsOf(), secret)), 401, 'invalid_client', ['auth:alg_not_allowed']);
      }
    });

    it('JWTCA-1 client_assertion that is not a JWT → 401 invalid_client', async () => {
      await expectRefused(() => withAssertion('not-a-jwt'), 401, 'invalid_client', ['auth:malformed']);
    });

    it('JWTCA-5 expired assertion (exp in the past) → 401 invalid_client', async () => {
      const now = Math.floor(Date.now() / 1000);
      await expectRefused(() => ccRequest({ iat: now - 120, exp: now - 60 }), 401, 'invalid_client', ['auth:expired']);
    });

    it('JWTCA-5 exp more than 300 s ahead → 401 invalid_client; 290 s ahead is accepted', async () => {
      const now = Math.floor(Date.now() / 1000);
      await expectRefused(() => ccRequest({ exp: now + 600 }), 401, 'invalid_client', ['auth:lifetime']);
      await expectRefused(() => ccRequest({ exp: now + 320 }), 401, 'invalid_client', ['auth:lifetime']);
      expectToken(await ccRequest({ exp: now + 290 }));
    });

    it('JWTCA-5 missing exp → 401 invalid_client', async () => {
      await expectRefused(() => ccRequest({ exp: undefined }), 401, 'invalid_client', ['auth:claim_invalid']);
    });

    it('JWTCA-6 nbf in the future → 401 invalid_client', async () => {
      await expectRefused(() => ccRequest({ nbf: Math.floor(Date.now() / 1000) + 120 }), 401, 'invalid_client', ['auth:not_yet_valid']);
    });

    it.each([
      ['another server', 'https://evil.example.com'],
      ['the issuer with a trailing slash', 'TRAILING'],
      ['another endpoint of the issuer (/par)', 'PAR'],
      ['an array with a foreign audience', 'ARRAY'],
      ['no aud at all', 'NONE'],
    ])('JWTCA-4 wrong aud (%s) → 401 invalid_client', async (_name, aud) => {
      const value =
        aud === 'TRAILING' ? `${suite.issuer}/` : aud === 'PAR' ? `${suite.issuer}/par` : aud === 'ARRAY' ? [suite.issuer, 'https://evil.example.com'] : aud === 'NONE' ? undefined : aud;
      await expectRefused(() => ccRequest({ aud: value }), 401, 'invalid_client', ['auth:audience']);
    });

    it('JWTCA-9 strict default: aud = token endpoint URL → 401 invalid_client (opt-outs: client-assertion.e2e-spec.ts)', async () => {
      await expectRefused(() => ccRequest({ aud: `${suite.issuer}/token` }), 401, 'invalid_client', ['auth:audience']);
    });

    it('JWTCA-7 missing jti → 401 invalid_client', async () => {
      await expectRefused(() => ccRequest({ jti: undefined }), 401, 'invalid_client', ['auth:claim_invalid']);
    });

    it('JWTCA-7 replayed assertion: second use with a fresh DPoP proof → 401 invalid_client', async () => {
      const form = await clientCredentialsForm(device);
      expectToken(await send(form, await proof()));
      await expectRefused(async () => send(form, await proof()), 401, 'invalid_client', ['auth:replay']);
    });

    it('JWTCA-7 a new assertion reusing a spent jti → 401 invalid_client', async () => {
      const jti = randomUUID();
      expectToken(await ccRequest({ jti }));
      await expectRefused(() => ccRequest({ jti, iat: Math.floor(Date.now() / 1000) + 1 }), 401, 'invalid_client', ['auth:replay']);
    });

    it('JWTCA-3 sub different from iss → 401 invalid_client', async () => {
      await expectRefused(() => ccRequest({ sub: 'other-app' }), 401, 'invalid_client', ['auth:claim_invalid']);
    });

    it('JWTCA-1 client_id parameter different from the assertion iss → 401 invalid_client', async () => {
      await expectRefused(() => ccRequest({}, { client_id: 'other-app' }), 401, 'invalid_client', ['auth:client_id_mismatch']);
      // Control: the matching client_id is fine.
      expectToken(await ccRequest({}, { client_id: DEVICE_CLIENT.client_id }));
    });

    it('JWTCA-1 wrong client_assertion_type → 401 invalid_client', async () => {
      await expectRefused(() => ccRequest({}, { client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer' }), 401, 'invalid_client', ['auth:assertion_type']);
    });

    it('JWTCA-1 client_assertion without client_assertion_type → 401 invalid_client', async () => {
      await expectRefused(async () => send({ grant_type: 'client_credentials', client_assertion: await device.clientAssertion() }, await proof()), 401, 'invalid_client', ['auth:assertion_type']);
    });

    it('JWTCA-1 client_assertion_type without client_assertion → 401 invalid_client', async () => {
      await expectRefused(async () => send({ grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE }, await proof()), 401, 'invalid_client', ['auth:missing_assertion']);
    });

    it('JWTCA-1 an unexpected assertion typ (dpop+jwt) → 401 invalid_client', async () => {
      const assertion = await signJwt(claimsOf(), { alg: 'ES256', typ: 'dpop+jwt' }, device.deviceKey.privateKey);
      await expectRefused(() => withAssertion(assertion), 401, 'invalid_client', ['auth:typ']);
    });

    it('GEN-1 two client authentication methods at once → invalid_request', async () => {
      await expectRefused(() => ccRequest({}, { client_secret: 'x' }), 400, 'invalid_request', []);
    });

    it('CONTRACT-4 client_credentials without any client authentication → 401 invalid_client', async () => {
      await expectRefused(async () => send({ grant_type: 'client_credentials' }, await proof()), 401, 'invalid_client', ['auth:missing_client_id']);
    });

    it('CONTRACT-4 client_credentials with client_id only (no device assertion) → unauthorized_client', async () => {
      await expectRefused(async () => send({ grant_type: 'client_credentials', client_id: DEVICE_CLIENT.client_id }, await proof()), 400, 'unauthorized_client', []);
    });

    it('CONTRACT-4 assertion without device_auth_session → 401 invalid_client', async () => {
      await expectRefused(() => ccRequest({ device_auth_session: undefined }), 401, 'invalid_client', ['auth:no_device_session']);
    });

    it('CONTRACT-4 unknown device_auth_session → 401 invalid_client', async () => {
      await expectRefused(() => ccRequest({ device_auth_session: randomBytes(32).toString('base64url') }), 401, 'invalid_client', ['auth:unknown_session']);
    });

    it('CONTRACT-4 expired device_auth_session → 401 invalid_client', async () => {
      const dev = await registeredDevice(suite.issuer, DEVICE_CLIENT.client_id);
      expectToken(await ccRequest({}, {}, dev));
      // A minute past the session's lifetime on the app's clock; assertion, proof and nonce are made for
      // that moment, so the session is the only thing out of date.
      suite.clock.advance((suite.config.tokens.deviceSessionTtl + 60) * 1000);
      try {
        const now = suite.clock.nowSeconds();
        const { nonceSecret, nonceWindowSeconds } = suite.config.dpop;
        nonce = new DpopNonces(nonceSecret!, nonceWindowSeconds, `as|${suite.issuer}`).current(now);
        await expectRefused(() => ccRequest({ iat: now, exp: now + 60 }, {}, dev, { iat: now }), 401, 'invalid_client', ['auth:session_expired']);
      } finally {
        suite.clock.reset();
      }
    });

    it('CONTRACT-4 revoked device_auth_session → 401 invalid_client', async () => {
      const dev = await registeredDevice(suite.issuer, DEVICE_CLIENT.client_id);
      expectToken(await ccRequest({}, {}, dev));
      await suite.env.db.query(`UPDATE device_sessions SET status = 'revoked', revoked_at = now() WHERE auth_session = $1`, [dev.authSession]);
      await expectRefused(() => ccRequest({}, {}, dev), 401, 'invalid_client', ['auth:session_expired']);
    });

    it('CONTRACT-4 device_auth_session belonging to another client → 401 invalid_client', async () => {
      const foreign = await registeredDevice(suite.issuer, 'other-app');
      // Control: that device authenticates as its own client.
      expectToken(await ccRequest({ iss: 'other-app', sub: 'other-app' }, {}, foreign));
      // Signed by the foreign device's own key, claiming to be native-app.
      await expectRefused(() => ccRequest({ iss: DEVICE_CLIENT.client_id, sub: DEVICE_CLIENT.client_id }, {}, foreign), 401, 'invalid_client', ['auth:foreign_session']);
    });
  });

  describe('DPoP at the token endpoint (RFC 9449)', () => {
    it('DPOP-19 no proof for a client with dpop_bound_access_tokens → 400 invalid_dpop_proof', async () => {
      await expectRefused(async () => send(await clientCredentialsForm(device)), 400, 'invalid_dpop_proof', ['dpop:missing']);
    });

    it('DPOP-13/DPOP-27 proof without nonce → 400 use_dpop_nonce + DPoP-Nonce; the retry with that nonce and the SAME assertion succeeds', async () => {
      const form = await clientCredentialsForm(device);
      const challenged = await expectRefused(async () => send(form, await proof({ nonce: undefined })), 400, 'use_dpop_nonce', ['dpop:nonce']);
      const fresh = challenged.headers.get('dpop-nonce');
      expect(fresh).toMatch(/^[A-Za-z0-9_-]{38}$/);
      // The nonce round did not burn the assertion's jti.
      const retry = await send(form, await proof({ nonce: fresh! }));
      expectToken(retry);
      expect(retry.body.auth_session).toBe(device.authSession);
    });

    it('DPOP-13 forged nonce → 400 use_dpop_nonce + DPoP-Nonce', async () => {
      const res = await expectRefused(async () => send(await clientCredentialsForm(device), await proof({ nonce: randomBytes(28).toString('base64url') })), 400, 'use_dpop_nonce', ['dpop:nonce']);
      expect(res.headers.get('dpop-nonce')).toMatch(/^[A-Za-z0-9_-]{38}$/);
    });

    it('DPOP-13 stale nonce (authentic, minted five windows ago) → 400 use_dpop_nonce + a different DPoP-Nonce', async () => {
      const { nonceSecret, nonceWindowSeconds } = suite.config.dpop;
      const stale = new DpopNonces(nonceSecret!, nonceWindowSeconds, `as|${suite.issuer}`).current(Math.floor(Date.now() / 1000) - 5 * nonceWindowSeconds);
      expect(stale).not.toBe(nonce);
      const res = await expectRefused(async () => send(await clientCredentialsForm(device), await proof({ nonce: stale })), 400, 'use_dpop_nonce', ['dpop:nonce']);
      expect(res.headers.get('dpop-nonce')).toMatch(/^[A-Za-z0-9_-]{38}$/);
      expect(res.headers.get('dpop-nonce')).not.toBe(stale);
    });

    it('DPOP-27 a nonce minted for another server (resource-server realm) → 400 use_dpop_nonce', async () => {
      const { nonceSecret, nonceWindowSeconds } = suite.config.dpop;
      const rsNonce = new DpopNonces(nonceSecret!, nonceWindowSeconds, `rs|${suite.issuer}`).current(Math.floor(Date.now() / 1000));
      await expectRefused(async () => send(await clientCredentialsForm(device), await proof({ nonce: rsNonce })), 400, 'use_dpop_nonce', ['dpop:nonce']);
    });

    it('DPOP-11 wrong htm → 400 invalid_dpop_proof', async () => {
      await expectRefused(async () => send(await clientCredentialsForm(device), await proof({ htm: 'GET' })), 400, 'invalid_dpop_proof', ['dpop:htm']);
    });

    it.each([
      ['another path of the issuer', '/par'],
      ['another host', 'https://evil.example.com/token'],
      ['https instead of the issuer scheme', 'HTTPS'],
    ])('DPOP-12 wrong htu (%s) → 400 invalid_dpop_proof', async (_name, target) => {
      const htu = target === 'HTTPS' ? tokenUrl().replace(/^http:/, 'https:') : target.startsWith('/') ? `${suite.issuer}${target}` : target;
      await expectRefused(async () => send(await clientCredentialsForm(device), await proof({ htu })), 400, 'invalid_dpop_proof', ['dpop:htu']);
    });

    it('DPOP-14 stale iat (10 minutes ago) → 400 invalid_dpop_proof', async () => {
      await expectRefused(async () => send(await clientCredentialsForm(device), await proof({ iat: Math.floor(Date.now() / 1000) - 600 })), 400, 'invalid_dpop_proof', ['dpop:iat']);
    });

    it('DPOP-14 iat 10 minutes in the future → 400 invalid_dpop_proof', async () => {
      await expectRefused(async () => send(await clientCredentialsForm(device), await proof({ iat: Math.floor(Date.now() / 1000) + 600 })), 400, 'invalid_dpop_proof', ['dpop:iat']);
    });

    it('DPOP-14 replayed proof (same proof twice, fresh assertions) → second is 400 invalid_dpop_proof', async () => {
      const p = await proof();
      expectToken(await send(await clientCredentialsForm(device), p));
      await expectRefused(async () => send(await clientCredentialsForm(device), p), 400, 'invalid_dpop_proof', ['dpop:replay']);
    });

    it('DPOP-14 a new proof reusing a spent jti → 400 invalid_dpop_proof', async () => {
      const jti = randomUUID();
      expectToken(await send(await clientCredentialsForm(device), await proof({ jti })));
      await expectRefused(async () => send(await clientCredentialsForm(device), await proof({ jti, iat: Math.floor(Date.now() / 1000) - 1 })), 400, 'invalid_dpop_proof', ['dpop:replay']);
    });

    it('DPOP-10 private jwk (with d) in the proof header → 400 invalid_dpop_proof', async () => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = privateKey.export({ format: 'jwk' }) as JWK;
      expect(jwk.d).toEqual(expect.any(String));
      const p = await signJwt({ jti: randomUUID(), htm: 'POST', htu: tokenUrl(), iat: Math.floor(Date.now() / 1000), nonce }, { alg: 'ES256', typ: 'dpop+jwt', jwk }, privateKey);
      const res = await expectRefused(async () => send(await clientCredentialsForm(device), p), 400, 'invalid_dpop_proof', ['dpop:private_jwk']);
      expect(res.text).not.toContain(jwk.d!);
    });

    it.each([
      ['JWT', 'JWT'],
      ['at+jwt', 'at+jwt'],
      ['missing', undefined],
    ])('DPOP-7 wrong typ (%s) → 400 invalid_dpop_proof', async (_name, typ) => {
      const header = { alg: 'ES256', jwk: device.dpopKey.publicJwk, ...(typ === undefined ? {} : { typ }) };
      const p = await signJwt({ jti: randomUUID(), htm: 'POST', htu: tokenUrl(), iat: Math.floor(Date.now() / 1000), nonce }, header, device.dpopKey.privateKey);
      await expectRefused(async () => send(await clientCredentialsForm(device), p), 400, 'invalid_dpop_proof', ['dpop:typ']);
    });

    it('DPOP-8 HS256 proof → 400 invalid_dpop_proof', async () => {
      const p = hs256({ typ: 'dpop+jwt', alg: 'HS256', jwk: device.dpopKey.publicJwk }, { jti: randomUUID(), htm: 'POST', htu: tokenUrl(), iat: Math.floor(Date.now() / 1000), nonce }, randomBytes(32));
      await expectRefused(async () => send(await clientCredentialsForm(device), p), 400, 'invalid_dpop_proof', ['dpop:alg']);
    });

    it('DPOP-8 alg none proof → 400 invalid_dpop_proof', async () => {
      const p = `${b64u({ typ: 'dpop+jwt', alg: 'none', jwk: device.dpopKey.publicJwk })}.${b64u({ jti: randomUUID(), htm: 'POST', htu: tokenUrl(), iat: Math.floor(Date.now() / 1000), nonce })}.`;
      await expectRefused(async () => send(await clientCredentialsForm(device), p), 400, 'invalid_dpop_proof', ['dpop:malformed']);
    });

    it('DPOP-9 proof signed by a key other than its jwk → 400 invalid_dpop_proof', async () => {
      const other = await generateClientKeyPair('ES256');
      const p = await signJwt(
        { jti: randomUUID(), htm: 'POST', htu: tokenUrl(), iat: Math.floor(Date.now() / 1000), nonce },
        { alg: 'ES256', typ: 'dpop+jwt', jwk: device.dpopKey.publicJwk },
        other.privateKey,
      );
      await expectRefused(async () => send(await clientCredentialsForm(device), p), 400, 'invalid_dpop_proof', ['dpop:signature']);
    });

    it('DPOP-6 proof without jti → 400 invalid_dpop_proof', async () => {
      const p = await signJwt({ htm: 'POST', htu: tokenUrl(), iat: Math.floor(Date.now() / 1000), nonce }, { alg: 'ES256', typ: 'dpop+jwt', jwk: device.dpopKey.publicJwk }, device.dpopKey.privateKey);
      await expectRefused(async () => send(await clientCredentialsForm(device), p), 400, 'invalid_dpop_proof', ['dpop:claims']);
    });

    it('DPOP-5 a DPoP header that is not a compact JWS → 400 invalid_dpop_proof', async () => {
      await expectRefused(async () => send(await clientCredentialsForm(device), 'not-a-jws'), 400, 'invalid_dpop_proof', ['dpop:malformed']);
    });

    it('seed 000 (C) proof signed with the DEVICE key → 400 invalid_dpop_proof', async () => {
      await expectRefused(async () => send(await clientCredentialsForm(device), await proof({}, device.deviceKey)), 400, 'invalid_dpop_proof', ['dpop:device_key']);
    });

    it('DPOP-4 two DPoP headers → 400 invalid_dpop_proof', async () => {
      const body = new URLSearchParams(await clientCredentialsForm(device)).toString();
      await expectRefused(
        async () => rawPost(tokenUrl(), body, { 'content-type': 'application/x-www-form-urlencoded', dpop: [await proof(), await proof()] }),
        400,
        'invalid_dpop_proof',
        ['dpop:multiple'],
      );
    });

    it('DPOP-16 a valid proof is not enough: a bad assertion with it is still invalid_client, not a token', async () => {
      await expectRefused(() => ccRequest({ aud: 'https://evil.example.com' }), 401, 'invalid_client', ['auth:audience']);
    });
  });

  describe('grant type and wire format (GEN-1, CONTRACT §2)', () => {
    it('GEN-1 unknown grant_type → 400 unsupported_grant_type', async () => {
      await expectRefused(async () => send({ ...(await clientCredentialsForm(device)), grant_type: 'password' }, await proof()), 400, 'unsupported_grant_type', []);
    });

    it('GEN-1 missing grant_type → 400 invalid_request', async () => {
      const { grant_type: _omit, ...form } = await clientCredentialsForm(device);
      await expectRefused(async () => send(form, await proof()), 400, 'invalid_request', []);
    });

    it('CONTRACT-2 repeated client_assertion → 400 invalid_request', async () => {
      const body = new URLSearchParams(await clientCredentialsForm(device));
      body.append('client_assertion', await device.clientAssertion());
      await expectRefused(async () => rawPost(tokenUrl(), body.toString(), { 'content-type': 'application/x-www-form-urlencoded', dpop: await proof() }), 400, 'invalid_request', []);
    });

    it('CONTRACT-2 repeated grant_type → 400 invalid_request', async () => {
      const body = new URLSearchParams(await clientCredentialsForm(device));
      body.append('grant_type', 'client_credentials');
      await expectRefused(async () => rawPost(tokenUrl(), body.toString(), { 'content-type': 'application/x-www-form-urlencoded', dpop: await proof() }), 400, 'invalid_request', []);
    });

    it('CONTRACT-2 JSON body instead of a form → 400 invalid_request', async () => {
      const form = await clientCredentialsForm(device);
      await expectRefused(async () => rawPost(tokenUrl(), JSON.stringify(form), { 'content-type': 'application/json', dpop: await proof() }), 400, 'invalid_request', []);
    });
  });

  it('CONTRACT-8 /metrics counts DPoP failures and client-authentication failures by reason', async () => {
    const res = await fetch(`${suite.issuer}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const value = (metric: string, labels: string): number => {
      const line = text.split('\n').find((l) => l.startsWith(`${metric}{`) && labels.split(',').every((lab) => l.includes(lab)));
      return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
    };
    for (const reason of ['nonce', 'missing', 'htm', 'htu', 'iat', 'replay', 'private_jwk', 'typ', 'alg', 'signature', 'claims', 'malformed', 'device_key', 'multiple']) {
      expect({ reason, counted: value('fpa_dpop_failures_total', `reason="${reason}"`) > 0 }).toEqual({ reason, counted: true });
    }
    // Every test fetches a nonce with a nonce-less proof, plus the explicit nonce tests.
    expect(value('fpa_dpop_failures_total', 'reason="nonce"')).toBeGreaterThan(40);
    for (const reason of ['unknown_client', 'audience', 'lifetime', 'replay', 'expired', 'bad_signature', 'unknown_session', 'foreign_session', 'session_expired', 'assertion_type', 'missing_assertion', 'client_id_mismatch', 'typ', 'malformed', 'no_device_session', 'claim_invalid', 'missing_client_id']) {
      const n = value('fpa_client_auth_failures_total', `reason="${reason}"`);
      expect({ reason, counted: n > 0 }).toEqual({ reason, counted: true });
    }
    expect(value('fpa_token_errors_total', 'grant="client_credentials",error="invalid_client"')).toBeGreaterThan(10);
    expect(value('fpa_token_errors_total', 'grant="client_credentials",error="invalid_dpop_proof"')).toBeGreaterThan(10);
  });
});
