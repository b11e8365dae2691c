import { ClientAdminService } from '@fpa/clients';
import { createDpopProof, generateClientKeyPair, randomToken, type ClientKeyPair } from '@fpa/crypto';
import { asNonce, clientCredentialsForm, expectOAuthError, postForm, registeredDevice, type FormResponse } from '../support/http';
import { startSmtpSink, type SmtpSink } from '../support/smtp';
import { ChallengeClient, DEVICE_CLIENT } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';

const APP = { ...DEVICE_CLIENT, client_id: 'grants-app', grant_types: ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code'] };
const OTHER_APP = { ...APP, client_id: 'grants-app-2' };
/** May register devices and refresh, but not use client_credentials. */
const NO_CC_APP = { ...APP, client_id: 'no-cc-app', grant_types: ['fp_register', 'refresh_token'] };

/**
 * Grant-level decisions of the token endpoint through HTTP on real PostgreSQL and Redis: who may
 * trigger the revocation of a reused authorization code (GEN-3, issue 7 finding 7), and the
 * per-client grant-type check (RFC 6749 §5.2 unauthorized_client).
 */
describe('token grants (standalone, PostgreSQL + Redis)', () => {
  let suite: RunningApp;
  let smtp: SmtpSink;
  let rsSecret = '';
  let n = 0;

  beforeAll(async () => {
    smtp = await startSmtpSink();
    suite = await startStandalone('tokengrants', { SMTP_URL: smtp.url, CHALLENGE_RESEND_SECONDS: '0' });
    for (const c of [APP, OTHER_APP, NO_CC_APP]) await suite.createClient(c);
    rsSecret = (await suite.createClient({ client_id: 'rs', type: 'confidential', permissions: ['introspect'] })).secret!;
  });
  afterAll(async () => {
    await suite?.close();
    await smtp?.close();
  });

  const tokenUrl = (): string => `${suite.issuer}/token`;

  /** A public-client flow up to a redeemed code: the legitimate party's key, verifier and tokens. */
  async function redeemedCode(): Promise<{ c: ChallengeClient; code: string; tokens: Record<string, unknown> }> {
    const email = `user${++n}@example.com`;
    const c = await ChallengeClient.create(suite.issuer);
    const first = await c.send({ client_id: APP.client_id, response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256', login_hint: email });
    expect(first.status).toBe(403);
    const done = await c.send({ code: await smtp.code(email) });
    expect(done.status).toBe(200);
    const code = done.body.authorization_code as string;
    const redeemed = await c.redeem(code, { client_id: APP.client_id });
    expect(redeemed.status).toBe(200);
    return { c, code, tokens: redeemed.body };
  }

  /** POST /token with a proof by `key` (one retry on use_dpop_nonce). */
  async function tokenRequest(form: Record<string, string>, key: ClientKeyPair): Promise<FormResponse> {
    let nonce = await asNonce(suite.issuer);
    for (let attempt = 0; ; attempt++) {
      const res = await postForm(tokenUrl(), form, { dpop: await createDpopProof(key, { htm: 'POST', htu: tokenUrl(), nonce }) });
      if (res.body.error === 'use_dpop_nonce' && attempt === 0) {
        nonce = res.headers.get('dpop-nonce')!;
        continue;
      }
      return res;
    }
  }

  const introspect = async (token: string): Promise<Record<string, unknown>> =>
    (await postForm(`${suite.issuer}/introspect`, { token }, { authorization: `Basic ${Buffer.from(`rs:${rsSecret}`).toString('base64')}` })).body;

  /** Status of GET /api/me (the sample API) with the access token and a proof by `key`. */
  async function api(accessToken: string, key: ClientKeyPair): Promise<number> {
    const url = `${suite.issuer}/api/me`;
    return (await fetch(url, { headers: { authorization: `DPoP ${accessToken}`, dpop: await createDpopProof(key, { htm: 'GET', htu: url, accessToken }) } })).status;
  }

  describe('GEN-3 authorization code reuse: only a replay that proves every binding revokes (finding 7)', () => {
    it('a stranger replaying a used code — another DPoP key, no code_verifier, only client_id — gets invalid_grant and the legitimate tokens keep working', async () => {
      const { c, code, tokens } = await redeemedCode();
      const accessToken = tokens.access_token as string;
      const refreshToken = tokens.refresh_token as string;
      const stranger = await generateClientKeyPair();

      // The reported attack: the code alone (e.g. from a log), with the stranger's own key.
      expectOAuthError(await tokenRequest({ grant_type: 'authorization_code', code, client_id: APP.client_id }, stranger), 400, 'invalid_grant');
      // Each binding on its own is enough to keep the stranger from revoking: the verifier leaked too
      // but not the key; the key without the verifier; the code redeemed under another client.
      expectOAuthError(await tokenRequest({ grant_type: 'authorization_code', code, code_verifier: c.verifier, client_id: APP.client_id }, stranger), 400, 'invalid_grant');
      expectOAuthError(await tokenRequest({ grant_type: 'authorization_code', code, code_verifier: randomToken(32), client_id: APP.client_id }, c.key), 400, 'invalid_grant');
      expectOAuthError(await tokenRequest({ grant_type: 'authorization_code', code, code_verifier: c.verifier, client_id: OTHER_APP.client_id }, c.key), 400, 'invalid_grant');

      // The legitimate access token is still active (introspection) and still works at the API…
      expect(await introspect(accessToken)).toMatchObject({ active: true, client_id: APP.client_id });
      expect(await api(accessToken, c.key)).toBe(200);
      // …and the refresh token still refreshes.
      expect(await introspect(refreshToken)).toMatchObject({ active: true });
      const refreshed = await tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: APP.client_id }, c.key);
      expect(refreshed.status).toBe(200);
      expect(await api(refreshed.body.access_token as string, c.key)).toBe(200);
    });

    it('a replay that proves everything (same client, same DPoP key, right verifier) is refused and revokes the tokens issued from the code', async () => {
      const { c, code, tokens } = await redeemedCode();
      const accessToken = tokens.access_token as string;
      const refreshToken = tokens.refresh_token as string;
      expect(await api(accessToken, c.key)).toBe(200);

      expectOAuthError(await c.redeem(code, { client_id: APP.client_id }), 400, 'invalid_grant');

      expect(await introspect(accessToken)).toEqual({ active: false });
      expect(await api(accessToken, c.key)).toBe(401);
      expect(await introspect(refreshToken)).toEqual({ active: false });
      expectOAuthError(await tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: APP.client_id }, c.key), 400, 'invalid_grant');
    });
  });

  describe('RFC 6749 §5.2: a client uses only the grant types it is registered for', () => {
    it('a device of a client without client_credentials, with a valid assertion and proof → 400 unauthorized_client, no token', async () => {
      const device = await registeredDevice(suite.issuer, NO_CC_APP.client_id);
      const res = await tokenRequest(await clientCredentialsForm(device), device.dpopKey);
      expectOAuthError(res, 400, 'unauthorized_client');
      const rows = await suite.env.db.query('SELECT count(*)::int AS n FROM refresh_tokens WHERE client_id = $1', [NO_CC_APP.client_id]);
      expect(rows).toEqual([{ n: 0 }]);
    });

    it('refresh_token withdrawn from a client: its refresh tokens stop working (unauthorized_client), and work again once it is back', async () => {
      const { c, tokens } = await redeemedCode();
      const admin = suite.get(ClientAdminService);
      await admin.upsert({ ...APP, grant_types: ['fp_register', 'client_credentials', 'authorization_code'] });
      try {
        const form = { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string, client_id: APP.client_id };
        expectOAuthError(await tokenRequest(form, c.key), 400, 'unauthorized_client');
        await admin.upsert(APP);
        expect((await tokenRequest(form, c.key)).status).toBe(200);
      } finally {
        await admin.upsert(APP);
      }
    });
  });
});
