import { generateKeyPairSync, createPublicKey, type KeyObject } from 'node:crypto';
import { createDpopProof, decodeJwtUnverified, generateClientKeyPair, signJwt, thumbprint, type JWK } from '@fpa/crypto';
import { FirstPartyClient } from '@fpa/client-sdk';
import { RegistrationMetrics } from '@fpa/registration';
import { asNonce, ASSERTION_TYPE, expectNoStore, expectOAuthError, type FormResponse, postForm, rawPost } from '../support/http';
import { DEVICE_CLIENT } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';

/**
 * Every refusal of device registration (CONTRACT §2–§3, seed 000 (A)/(B), seed 004) against the
 * standalone app on real PostgreSQL and Redis, at `POST /register` and at `POST /token` with
 * `grant_type=fp_register` (same handler). Each refusal asserts the exact status, `error`,
 * `Cache-Control: no-store`, and that no `device_sessions` row was written.
 */

type Endpoint = 'register' | 'token';
const ENDPOINTS: readonly Endpoint[] = ['register', 'token'];

const privateJwk = (k: KeyObject): Record<string, unknown> => k.export({ format: 'jwk' }) as Record<string, unknown>;
const publicJwk = (k: KeyObject): Record<string, unknown> => createPublicKey(k).export({ format: 'jwk' }) as Record<string, unknown>;

describe('device registration refusals (standalone, PostgreSQL + Redis)', () => {
  let suite: RunningApp;

  // Key fixtures (node:crypto; generated once).
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ec384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const ed = generateKeyPairSync('ed25519');
  const ed448 = generateKeyPairSync('ed448');
  const x25519 = generateKeyPairSync('x25519');
  const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsa2047 = generateKeyPairSync('rsa', { modulusLength: 2047 });
  const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });

  const sessions = async (): Promise<number> => Number((await suite.env.db.query<{ n: string }>('SELECT count(*) AS n FROM device_sessions'))[0].n);
  const url = (endpoint: Endpoint): string => `${suite.issuer}/${endpoint}`;
  const formFor = (endpoint: Endpoint, form: Record<string, string>): Record<string, string> => (endpoint === 'token' ? { grant_type: 'fp_register', ...form } : form);
  const register = (endpoint: Endpoint, form: Record<string, string>, headers: Record<string, string> = {}): Promise<FormResponse> =>
    postForm(url(endpoint), formFor(endpoint, form), headers);

  /** Registration outcomes counted by the app (fpa_device_registrations_total), refusals only. */
  const outcomes = async (): Promise<Map<string, number>> =>
    new Map((await suite.get(RegistrationMetrics).registrations.get()).values.map((v) => [String(v.labels.outcome), v.value] as const));

  /**
   * Sends a refused request; proves nothing was stored and that exactly the expected refusal
   * reasons were counted (`[]` for refusals made before the registration handler: wire format).
   */
  async function expectRefused(send: () => Promise<FormResponse>, status: number, error: string, reasons: string[]): Promise<FormResponse> {
    const before = await sessions();
    const counted = await outcomes();
    const res = await send();
    expectOAuthError(res, status, error);
    expect(await sessions()).toBe(before);
    const added: string[] = [];
    for (const [k, v] of await outcomes()) for (let i = 0; i < v - (counted.get(k) ?? 0); i++) added.push(k);
    expect(added).toEqual(reasons);
    return res;
  }

  beforeAll(async () => {
    // Many registrations from one IP in this file: the rate limit itself is tested in rate-limits.e2e-spec.ts.
    suite = await startStandalone('regrefusals', { REGISTRATION_RATE_LIMIT: '100000' });
    await suite.createClient(DEVICE_CLIENT);
    await suite.createClient({ client_id: 'no-fp-register', type: 'public', first_party: true, grant_types: ['client_credentials'], auth_methods: ['private_key_jwt', 'none'] });
    await suite.createClient({ client_id: 'third-party', type: 'public', first_party: false, grant_types: ['client_credentials'], auth_methods: ['private_key_jwt', 'none'] });
    await suite.createClient({ client_id: 'confidential-app', type: 'confidential', first_party: true, grant_types: ['fp_register', 'client_credentials'] });
    await suite.createClient({ ...DEVICE_CLIENT, client_id: 'disabled-app', enabled: false });
  });
  afterAll(async () => suite?.close());

  const goodKey = (): string => JSON.stringify(publicJwk(ec.privateKey));

  describe.each(ENDPOINTS)('at %s', (endpoint) => {
    const cases: [string, () => Record<string, string>, number, string, string][] = [
      // Private or symmetric key material (CONTRACT §3: "a JWK holding private members … is refused").
      ['CONTRACT-3 EC P-256 JWK with private member d → invalid_request', () => ({ public_key: JSON.stringify(privateJwk(ec.privateKey)) }), 400, 'invalid_request', 'private_key'],
      ['CONTRACT-3 RSA private JWK (d, p, q, dp, dq, qi) → invalid_request', () => ({ public_key: JSON.stringify(privateJwk(rsa2048.privateKey)) }), 400, 'invalid_request', 'private_key'],
      ['CONTRACT-3 Ed25519 private JWK → invalid_request', () => ({ public_key: JSON.stringify(privateJwk(ed.privateKey)) }), 400, 'invalid_request', 'private_key'],
      ['CONTRACT-3 public RSA JWK smuggling only a "p" member → invalid_request', () => ({ public_key: JSON.stringify({ ...publicJwk(rsa2048.privateKey), p: 'AQAB' }) }), 400, 'invalid_request', 'private_key'],
      ['CONTRACT-3 symmetric oct JWK (k) → invalid_request', () => ({ public_key: JSON.stringify({ kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA' }) }), 400, 'invalid_request', 'private_key'],
      ['CONTRACT-3 PEM PKCS#8 private key → invalid_request', () => ({ public_key: ec.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() }), 400, 'invalid_request', 'private_key'],
      ['CONTRACT-3 PEM SEC1 EC private key → invalid_request', () => ({ public_key: ec.privateKey.export({ format: 'pem', type: 'sec1' }).toString() }), 400, 'invalid_request', 'private_key'],
      ['CONTRACT-3 PEM PKCS#1 RSA private key → invalid_request', () => ({ public_key: rsa2048.privateKey.export({ format: 'pem', type: 'pkcs1' }).toString() }), 400, 'invalid_request', 'private_key'],
      // Weak keys.
      ['CONTRACT-3 RSA-1024 public JWK (< 2048 bits) → invalid_request', () => ({ public_key: JSON.stringify(publicJwk(rsa1024.privateKey)) }), 400, 'invalid_request', 'weak_key'],
      ['CONTRACT-3 RSA-2047 public JWK (one bit short) → invalid_request', () => ({ public_key: JSON.stringify(publicJwk(rsa2047.privateKey)) }), 400, 'invalid_request', 'weak_key'],
      ['CONTRACT-3 RSA-1024 PEM SPKI → invalid_request', () => ({ public_key: createPublicKey(rsa1024.privateKey).export({ format: 'pem', type: 'spki' }).toString() }), 400, 'invalid_request', 'weak_key'],
      // Unsupported key types.
      ['CONTRACT-3 EC P-384 JWK (unsupported curve) → invalid_request', () => ({ public_key: JSON.stringify(publicJwk(ec384.privateKey)) }), 400, 'invalid_request', 'unsupported_key_type'],
      ['CONTRACT-3 EC P-384 PEM SPKI → invalid_request', () => ({ public_key: createPublicKey(ec384.privateKey).export({ format: 'pem', type: 'spki' }).toString() }), 400, 'invalid_request', 'unsupported_key_type'],
      ['CONTRACT-3 Ed448 JWK → invalid_request', () => ({ public_key: JSON.stringify(publicJwk(ed448.privateKey)) }), 400, 'invalid_request', 'unsupported_key_type'],
      ['CONTRACT-3 X25519 (key agreement) JWK → invalid_request', () => ({ public_key: JSON.stringify(publicJwk(x25519.privateKey)) }), 400, 'invalid_request', 'unsupported_key_type'],
      ['CONTRACT-3 oct JWK without k → invalid_request', () => ({ public_key: JSON.stringify({ kty: 'oct' }) }), 400, 'invalid_request', 'unsupported_key_type'],
      ['CONTRACT-3 JWK without kty → invalid_request', () => ({ public_key: JSON.stringify({ crv: 'P-256', x: 'AAAA', y: 'AAAA' }) }), 400, 'invalid_request', 'malformed_key'],
      ['CONTRACT-3 EC point not on the curve → invalid_request', () => ({ public_key: JSON.stringify({ ...publicJwk(ec.privateKey), y: publicJwk(ec.privateKey).x }) }), 400, 'invalid_request', 'malformed_key'],
      ['CONTRACT-3 EC JWK with a non-base64url coordinate → invalid_request', () => ({ public_key: JSON.stringify({ ...publicJwk(ec.privateKey), x: 'not base64url!' }) }), 400, 'invalid_request', 'malformed_key'],
      // Malformed input.
      ['CONTRACT-3 malformed JSON in public_key → invalid_request', () => ({ public_key: '{"kty":"EC","crv":"P-256",' }), 400, 'invalid_request', 'malformed_json'],
      ['CONTRACT-3 public_key a JSON array → invalid_request', () => ({ public_key: JSON.stringify([publicJwk(ec.privateKey)]) }), 400, 'invalid_request', 'malformed_json'],
      ['CONTRACT-3 public_key a JSON string → invalid_request', () => ({ public_key: JSON.stringify('EC') }), 400, 'invalid_request', 'malformed_json'],
      ['CONTRACT-3 PEM certificate-like block → invalid_request', () => ({ public_key: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----' }), 400, 'invalid_request', 'unsupported_key_format'],
      ['CONTRACT-3 corrupt PEM SPKI body → invalid_request', () => ({ public_key: '-----BEGIN PUBLIC KEY-----\nAAAAAAAA\n-----END PUBLIC KEY-----' }), 400, 'invalid_request', 'malformed_key'],
      // alg must fit the key (CONTRACT §3 optional alg).
      ['CONTRACT-3 alg RS256 for an EC key → invalid_request', () => ({ public_key: goodKey(), alg: 'RS256' }), 400, 'invalid_request', 'alg_mismatch'],
      ['JWTCA-8 alg none for an EC key → invalid_request', () => ({ public_key: goodKey(), alg: 'none' }), 400, 'invalid_request', 'alg_mismatch'],
      ['JWTCA-8 alg HS256 for an RSA key → invalid_request', () => ({ public_key: JSON.stringify(publicJwk(rsa2048.privateKey)), alg: 'HS256' }), 400, 'invalid_request', 'alg_mismatch'],
      // Missing parameters.
      ['CONTRACT-3 missing public_key → invalid_request', () => ({}), 400, 'invalid_request', 'missing_key'],
      ['CONTRACT-3 empty public_key (RFC 6749 §3.1: treated as omitted) → invalid_request', () => ({ public_key: '' }), 400, 'invalid_request', 'missing_key'],
      ['CONTRACT-3 missing client_id → invalid_request', () => ({ client_id: '', public_key: goodKey() }), 400, 'invalid_request', 'missing_client_id'],
      // Client checks (FIPA-1).
      ['CONTRACT-3 unknown client_id → 401 invalid_client', () => ({ client_id: 'no-such-client', public_key: goodKey() }), 401, 'invalid_client', 'unknown_client'],
      ['CONTRACT-3 disabled client → 401 invalid_client', () => ({ client_id: 'disabled-app', public_key: goodKey() }), 401, 'invalid_client', 'unknown_client'],
      ['CONTRACT-3 over-long client_id → 401 invalid_client', () => ({ client_id: 'x'.repeat(300), public_key: goodKey() }), 401, 'invalid_client', 'unknown_client'],
      ['FIPA-1 first-party client without fp_register → unauthorized_client', () => ({ client_id: 'no-fp-register', public_key: goodKey() }), 400, 'unauthorized_client', 'not_allowed'],
      ['FIPA-1 third-party client → unauthorized_client', () => ({ client_id: 'third-party', public_key: goodKey() }), 400, 'unauthorized_client', 'not_allowed'],
      ['FIPA-1 confidential client → unauthorized_client', () => ({ client_id: 'confidential-app', public_key: goodKey() }), 400, 'unauthorized_client', 'not_public'],
      // Echoed values are bounded.
      ['CONTRACT-3 oversize state (513 chars) → invalid_request', () => ({ public_key: goodKey(), state: 's'.repeat(513) }), 400, 'invalid_request', 'bad_state'],
      ['CONTRACT-3 oversize nonce (513 chars) → invalid_request', () => ({ public_key: goodKey(), nonce: 'n'.repeat(513) }), 400, 'invalid_request', 'bad_nonce'],
      ['CONTRACT-3 state with a control character → invalid_request', () => ({ public_key: goodKey(), state: 'ab\ncd' }), 400, 'invalid_request', 'bad_state'],
    ];

    it.each(cases)('%s', async (_name, form, status, error, reason) => {
      const f: Record<string, string> = { client_id: DEVICE_CLIENT.client_id, ...form() };
      if (f.client_id === '') delete f.client_id; // "missing client_id": really absent
      const res = await expectRefused(() => register(endpoint, f), status, error, [reason]);
      // Never echo key material (CONTRACT §2).
      for (const m of ['d', 'p', 'q', 'dp', 'dq', 'qi']) {
        const v = privateJwk(rsa2048.privateKey)[m] as string;
        expect(res.text).not.toContain(v.slice(0, 40));
      }
      expect(res.text).not.toContain((privateJwk(ec.privateKey).d as string).slice(0, 20));
    });

    it('CONTRACT-2 duplicate client_id → invalid_request', async () => {
      const body = new URLSearchParams(formFor(endpoint, { client_id: DEVICE_CLIENT.client_id, public_key: goodKey() }));
      body.append('client_id', DEVICE_CLIENT.client_id);
      await expectRefused(() => rawPost(url(endpoint), body.toString(), { 'content-type': 'application/x-www-form-urlencoded' }), 400, 'invalid_request', []);
    });

    it('CONTRACT-2 duplicate public_key (two different keys) → invalid_request', async () => {
      const body = new URLSearchParams(formFor(endpoint, { client_id: DEVICE_CLIENT.client_id, public_key: goodKey() }));
      body.append('public_key', JSON.stringify(publicJwk(ed.privateKey)));
      await expectRefused(() => rawPost(url(endpoint), body.toString(), { 'content-type': 'application/x-www-form-urlencoded' }), 400, 'invalid_request', []);
    });

    it('CONTRACT-2 duplicate state → invalid_request', async () => {
      const body = new URLSearchParams(formFor(endpoint, { client_id: DEVICE_CLIENT.client_id, public_key: goodKey(), state: 'a' }));
      body.append('state', 'b');
      await expectRefused(() => rawPost(url(endpoint), body.toString(), { 'content-type': 'application/x-www-form-urlencoded' }), 400, 'invalid_request', []);
    });

    it.each([
      ['application/json', (f: Record<string, string>) => JSON.stringify(f)],
      ['text/plain', (f: Record<string, string>) => new URLSearchParams(f).toString()],
      ['multipart/form-data; boundary=xyz', (f: Record<string, string>) => Object.entries(f).map(([k, v]) => `--xyz\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join('') + '--xyz--\r\n'],
    ])('CONTRACT-2 wrong content type %s → invalid_request', async (contentType, encode) => {
      const f = formFor(endpoint, { client_id: DEVICE_CLIENT.client_id, public_key: goodKey() });
      await expectRefused(() => rawPost(url(endpoint), encode(f), { 'content-type': contentType }), 400, 'invalid_request', []);
    });

    it('CONTRACT-2 no content type at all → invalid_request', async () => {
      const f = formFor(endpoint, { client_id: DEVICE_CLIENT.client_id, public_key: goodKey() });
      await expectRefused(() => rawPost(url(endpoint), new URLSearchParams(f).toString(), {}), 400, 'invalid_request', []);
    });

    it('CONTRACT-2 malformed JSON body with application/json → invalid_request', async () => {
      await expectRefused(() => rawPost(url(endpoint), '{"client_id":', { 'content-type': 'application/json' }), 400, 'invalid_request', []);
    });

    it('PAR-8 body over the size limit → 413 invalid_request', async () => {
      const f = formFor(endpoint, { client_id: DEVICE_CLIENT.client_id, public_key: goodKey(), state: 'x'.repeat(70_000) });
      await expectRefused(() => register(endpoint, f), 413, 'invalid_request', []);
    });
  });

  describe('accepted keys (the positive side of the same checks)', () => {
    async function expectRegistered(res: FormResponse, jwk: Record<string, unknown>, alg: string): Promise<void> {
      expect(res.status).toBe(200);
      expectNoStore(res);
      expect(res.body).toMatchObject({ token_type: 'fp+jwt', auth_session: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), expires_in: expect.any(Number) });
      const jkt = await thumbprint(jwk as JWK);
      expect(decodeJwtUnverified(res.body.fp_token as string).payload.cnf).toEqual({ jkt });
      const rows = await suite.env.db.query<{ key_jkt: string; key_alg: string; public_jwk: Record<string, unknown>; status: string }>(
        'SELECT key_jkt, key_alg, public_jwk, status FROM device_sessions WHERE auth_session = $1',
        [res.body.auth_session],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ key_jkt: jkt, key_alg: alg, status: 'active' });
      // Only the RFC 7638 members are kept: nothing a client could smuggle.
      const expectedMembers = jwk.kty === 'EC' ? ['crv', 'kty', 'x', 'y'] : jwk.kty === 'OKP' ? ['crv', 'kty', 'x'] : ['e', 'kty', 'n'];
      expect(Object.keys(rows[0].public_jwk).sort()).toEqual(expectedMembers);
    }

    it.each(ENDPOINTS)('CONTRACT-3 PEM SPKI (EC P-256) public key is accepted at %s', async (endpoint) => {
      const before = await sessions();
      const pem = createPublicKey(ec.privateKey).export({ format: 'pem', type: 'spki' }).toString();
      await expectRegistered(await register(endpoint, { client_id: DEVICE_CLIENT.client_id, public_key: pem }), publicJwk(ec.privateKey), 'ES256');
      expect(await sessions()).toBe(before + 1);
    });

    it('CONTRACT-3 PEM SPKI (RSA-2048) public key is accepted', async () => {
      const pem = createPublicKey(rsa2048.privateKey).export({ format: 'pem', type: 'spki' }).toString();
      await expectRegistered(await register('register', { client_id: DEVICE_CLIENT.client_id, public_key: pem, alg: 'PS256' }), publicJwk(rsa2048.privateKey), 'PS256');
    });

    it.each(ENDPOINTS)('CONTRACT-3 Ed25519 JWK is accepted at %s (alg EdDSA)', async (endpoint) => {
      await expectRegistered(await register(endpoint, { client_id: DEVICE_CLIENT.client_id, public_key: JSON.stringify(publicJwk(ed.privateKey)) }), publicJwk(ed.privateKey), 'EdDSA');
    });

    it.each(ENDPOINTS)('CONTRACT-3 RSA-2048 JWK with alg PS256 is accepted at %s', async (endpoint) => {
      await expectRegistered(
        await register(endpoint, { client_id: DEVICE_CLIENT.client_id, public_key: JSON.stringify(publicJwk(rsa2048.privateKey)), alg: 'PS256' }),
        publicJwk(rsa2048.privateKey),
        'PS256',
      );
    });

    it('CONTRACT-3 a public JWK with alg/kid/use members is accepted and stored minimal', async () => {
      const jwk = { ...publicJwk(ec.privateKey), alg: 'ES256', kid: 'device-1', use: 'sig', ext: true };
      await expectRegistered(await register('register', { client_id: DEVICE_CLIENT.client_id, public_key: JSON.stringify(jwk) }), publicJwk(ec.privateKey), 'ES256');
    });

    it('CONTRACT-3 state of exactly 512 characters is echoed', async () => {
      const state = 's'.repeat(512);
      const res = await register('register', { client_id: DEVICE_CLIENT.client_id, public_key: goodKey(), state });
      expect(res.status).toBe(200);
      expect(res.body.state).toBe(state);
    });

    it('JWTCA-8 an RSA device registered with alg PS256 authenticates with PS256 only (RS256 with the same key → invalid_client)', async () => {
      const reg = await register('register', { client_id: DEVICE_CLIENT.client_id, public_key: JSON.stringify(publicJwk(rsa2048.privateKey)), alg: 'PS256' });
      expect(reg.status).toBe(200);
      const dpopKey = await generateClientKeyPair('ES256');
      const nonce = await asNonce(suite.issuer, dpopKey);
      const tokenWith = async (alg: string): Promise<FormResponse> => {
        const now = Math.floor(Date.now() / 1000);
        const assertion = await signJwt(
          { iss: DEVICE_CLIENT.client_id, sub: DEVICE_CLIENT.client_id, aud: suite.issuer, iat: now, exp: now + 60, jti: `${alg}-${now}-${Math.random()}`, device_auth_session: reg.body.auth_session as string },
          { alg, typ: 'client-authentication+jwt' },
          rsa2048.privateKey,
        );
        return postForm(
          `${suite.issuer}/token`,
          { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: assertion },
          { dpop: await createDpopProof(dpopKey, { htm: 'POST', htu: `${suite.issuer}/token`, nonce }) },
        );
      };
      const rs256 = await tokenWith('RS256');
      expectOAuthError(rs256, 401, 'invalid_client');
      const ps256 = await tokenWith('PS256');
      expect(ps256.status).toBe(200);
      expect(ps256.body).toMatchObject({ token_type: 'DPoP', auth_session: reg.body.auth_session });
    });
    it.each(['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256'] as const)('JWTCA-8 an SDK device with a %s key registers that alg and authenticates with it', async (alg) => {
      const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: DEVICE_CLIENT.client_id, deviceKey: await generateClientKeyPair(alg) });
      const reg = await device.register();
      const rows = await suite.env.db.query<{ key_alg: string }>('SELECT key_alg FROM device_sessions WHERE auth_session = $1', [reg.auth_session]);
      expect(rows).toEqual([{ key_alg: alg }]);
      await expect(device.requestToken()).resolves.toMatchObject({ token_type: 'DPoP', auth_session: reg.auth_session });
    });
  });
});
