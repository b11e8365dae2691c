import { FirstPartyClient } from '@fpa/client-sdk';
import { DataSource } from 'typeorm';
import { createDpopProof, generateClientKeyPair, randomToken, s256CodeChallenge, sha256B64u } from '@fpa/crypto';
import { ChallengeClient, DEVICE_CLIENT } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { asNonce, expectNoStore, postForm, type FormResponse } from '../support/http';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

const APP = { ...DEVICE_CLIENT, client_id: 'fp-app', grant_types: ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code'] };
const OTHER_APP = { ...APP, client_id: 'fp-app-2' };
const THIRD_PARTY = { ...APP, client_id: 'third-party', first_party: false, grant_types: ['authorization_code', 'refresh_token'] };
const EMAIL_ONLY = { ...APP, client_id: 'email-only', challenge_policy: { methods: ['email_otp'] } };

/** Refusals of the authorization challenge endpoint and of the authorization_code grant (FIPA-*, GEN-2/3). */
describe('authorization challenge refusals (standalone, PostgreSQL + Redis)', () => {
  let suite: RunningApp;
  let smtp: SmtpSink;
  let n = 0;

  beforeAll(async () => {
    smtp = await startSmtpSink();
    suite = await startStandalone('challengerefusals', { SMTP_URL: smtp.url, CHALLENGE_RESEND_SECONDS: '0', CHALLENGE_RATE_LIMIT_SESSION: '1000' });
    for (const c of [APP, OTHER_APP, THIRD_PARTY, EMAIL_ONLY]) await suite.createClient(c);
    const rs = await suite.createClient({ client_id: 'rs', type: 'confidential', permissions: ['introspect'] });
    rsSecret = rs.secret!;
  });
  afterAll(async () => {
    await suite?.close();
    await smtp?.close();
  });
  let rsSecret = '';

  const refused = (res: FormResponse, status: number, error: string): void => {
    expect({ status: res.status, error: res.body.error }).toEqual({ status, error });
    expectNoStore(res);
    expect(res.body.authorization_code).toBeUndefined();
  };

  /** A public-client flow up to a redeemable code. */
  async function codeFor(clientId = APP.client_id): Promise<{ c: ChallengeClient; code: string; email: string }> {
    const email = `user${++n}@example.com`;
    const c = await ChallengeClient.create(suite.issuer);
    const first = await c.send({ client_id: clientId, response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256', login_hint: email });
    expect(first.status).toBe(403);
    const done = await c.send({ code: await smtp.code(email) });
    expect(done.status).toBe(200);
    return { c, code: done.body.authorization_code as string, email };
  }

  describe('the challenge endpoint', () => {
    it('FIPA-26: a follow-up with another DPoP key, or without a proof, is invalid_session', async () => {
      const c = await ChallengeClient.create(suite.issuer);
      await c.send({ client_id: APP.client_id, response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256', login_hint: `key${++n}@example.com` });
      refused(await c.send({ code: '123456' }, { key: await generateClientKeyPair() }), 400, 'invalid_session');
      refused(await c.send({ code: '123456' }, { noProof: true }), 400, 'invalid_session');
    });

    it('FIPA-19: an unknown auth_session is invalid_session', async () => {
      const c = await ChallengeClient.create(suite.issuer);
      refused(await c.send({ auth_session: randomToken(32), code: '123456' }), 400, 'invalid_session');
    });

    it('FIPA-1: a client that is not first-party is refused (unauthorized_client); an unknown one is invalid_client', async () => {
      const c = await ChallengeClient.create(suite.issuer);
      refused(await c.send({ client_id: THIRD_PARTY.client_id, response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256' }), 400, 'unauthorized_client');
      refused(await c.send({ client_id: 'nobody', response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256' }), 401, 'invalid_client');
    });

    it('GEN-2: plain PKCE, a malformed challenge, or none at all from a public client is invalid_request', async () => {
      const c = await ChallengeClient.create(suite.issuer);
      const base = { client_id: APP.client_id, response_type: 'code' };
      refused(await c.send({ ...base, code_challenge: c.codeChallenge, code_challenge_method: 'plain' }), 400, 'invalid_request');
      refused(await c.send({ ...base, code_challenge: c.codeChallenge }), 400, 'invalid_request');
      refused(await c.send({ ...base, code_challenge: 'short', code_challenge_method: 'S256' }), 400, 'invalid_request');
      refused(await c.send(base), 400, 'invalid_request');
      // A malformed first request stores no session, and names none.
      expect(c.authSession).toBeUndefined();
      const [{ count }] = await suite.env.db.query<{ count: string }>('SELECT count(*) FROM device_sessions WHERE key_jkt = $1', [c.key.jkt]);
      expect(Number(count)).toBe(0);
    });

    it('FIPA-10 / FIPA-8: response_type must be code; redirect_uri and request_uri have no place here; unknown acr_values are refused', async () => {
      const c = await ChallengeClient.create(suite.issuer);
      const ok = { client_id: APP.client_id, code_challenge: c.codeChallenge, code_challenge_method: 'S256' };
      refused(await c.send(ok), 400, 'invalid_request');
      refused(await c.send({ ...ok, response_type: 'token' }), 400, 'invalid_request');
      refused(await c.send({ ...ok, response_type: 'code', redirect_uri: 'https://app.example.com/cb' }), 400, 'invalid_request');
      refused(await c.send({ ...ok, response_type: 'code', request_uri: 'urn:ietf:params:oauth:request_uri:x' }), 400, 'invalid_request');
      refused(await c.send({ ...ok, response_type: 'code', acr_values: 'urn:example:unknown' }), 400, 'invalid_request');
    });

    it('FIPA-33: the first request needs a DPoP proof; without the nonce it gets use_dpop_nonce with a DPoP-Nonce', async () => {
      const c = await ChallengeClient.create(suite.issuer);
      const body = { client_id: APP.client_id, response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256' };
      refused(await c.send(body, { noProof: true }), 400, 'invalid_dpop_proof');
      const url = `${suite.issuer}/authorize-challenge`;
      const noNonce = await postForm(url, body, { dpop: await createDpopProof(c.key, { htm: 'POST', htu: url }) });
      refused(noNonce, 400, 'use_dpop_nonce');
      expect(noNonce.headers.get('dpop-nonce')).toEqual(expect.any(String));
      const wrongHtu = await postForm(url, body, { dpop: await createDpopProof(c.key, { htm: 'POST', htu: `${suite.issuer}/token`, nonce: noNonce.headers.get('dpop-nonce')! }) });
      refused(wrongHtu, 400, 'invalid_dpop_proof');
    });

    it('a one-time code is accepted once; an expired challenge is not answered', async () => {
      const { c } = await codeFor();
      // The same session again with an OTP (the flow is complete): refused, no second code.
      refused(await c.send({ code: '000000' }), 400, 'invalid_request');

      const c2 = await ChallengeClient.create(suite.issuer);
      c2.clock = suite.clock;
      const email = `late${++n}@example.com`;
      await c2.send({ client_id: APP.client_id, response_type: 'code', code_challenge: c2.codeChallenge, code_challenge_method: 'S256', login_hint: email });
      const otp = await smtp.code(email);
      // A second past the code's lifetime on the app's clock (the flow state's Redis TTL is longer).
      suite.clock.advance((suite.config.challenge.otpTtlSeconds + 1) * 1000);
      try {
        const stale = await c2.send({ code: otp });
        expect(stale.status).toBe(403);
        expect(stale.body).toMatchObject({ error: 'insufficient_authorization', status: 'expired', challenge_type: 'email_otp' });
        refused(await c2.send({ code: otp }), 400, 'invalid_request');
      } finally {
        suite.clock.reset();
      }
    });

    it('FIPA-21: redirect_to_web when no native method can satisfy the request — request_uri only with a code_challenge', async () => {
      const c = await ChallengeClient.create(suite.issuer);
      const withPkce = await c.send({ client_id: EMAIL_ONLY.client_id, response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256', acr_values: 'urn:first-party-auth:acr:phr' });
      expect(withPkce.status).toBe(403);
      expectNoStore(withPkce);
      expect(withPkce.body).toMatchObject({ error: 'redirect_to_web', auth_session: expect.any(String), request_uri: expect.stringMatching(/^urn:ietf:params:oauth:request_uri:/), expires_in: 60 });

      // A device (no code_challenge) gets no request_uri.
      const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: EMAIL_ONLY.client_id });
      await device.register();
      const token = await device.requestToken();
      const d = await ChallengeClient.create(suite.issuer, token.access_token, device.dpopKey);
      const noPkce = await d.send({ response_type: 'code', acr_values: 'urn:first-party-auth:acr:phr' });
      expect(noPkce.status).toBe(403);
      expect(noPkce.body.error).toBe('redirect_to_web');
      expect(noPkce.body.request_uri).toBeUndefined();
    });

    it('device way in: a token of another session in auth_session, or a proof without ath, is refused', async () => {
      const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: APP.client_id });
      await device.register();
      const token = await device.requestToken();
      const d = await ChallengeClient.create(suite.issuer, token.access_token, device.dpopKey);
      refused(await d.send({ response_type: 'code', auth_session: randomToken(32), email: 'x@example.com' }), 400, 'invalid_session');
      const url = `${suite.issuer}/authorize-challenge`;
      const noAth = await postForm(url, { response_type: 'code' }, { authorization: `DPoP ${token.access_token}`, dpop: await createDpopProof(device.dpopKey, { htm: 'POST', htu: url, nonce: d.nonce }) });
      expect(d.nonce).toEqual(expect.any(String));
      refused(noAth, 400, 'invalid_dpop_proof');
      // A forged token is not a device token.
      refused(await (await ChallengeClient.create(suite.issuer, `${token.access_token.slice(0, -4)}AAAA`, device.dpopKey)).send({ response_type: 'code' }), 401, 'invalid_client');
    });

    it('responses never carry the one-time code or its hash', async () => {
      const c = await ChallengeClient.create(suite.issuer);
      const email = `secret${++n}@example.com`;
      const first = await c.send({ client_id: APP.client_id, response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256', login_hint: email });
      const otp = await smtp.code(email);
      const wrong = await c.send({ code: otp === '999999' ? '999998' : '999999' });
      for (const r of [first, wrong]) {
        expect(r.text).not.toContain(otp);
        expect(r.text).not.toMatch(/"(mac|salt|state)"/);
      }
    });
  });

  describe('the authorization_code grant', () => {
    it('GEN-2: a wrong code_verifier, a missing one, or a verifier for another challenge is invalid_grant', async () => {
      const { c, code } = await codeFor();
      refused(await c.redeem(code, { client_id: APP.client_id }, { code_verifier: randomToken(32) }), 400, 'invalid_grant');
      const form = { grant_type: 'authorization_code', code, client_id: APP.client_id };
      const url = `${suite.issuer}/token`;
      refused(await postForm(url, form, { dpop: await createDpopProof(c.key, { htm: 'POST', htu: url, nonce: c.nonce }) }), 400, 'invalid_grant');
      // The code was not burned by those attempts: the right verifier still works.
      expect((await c.redeem(code, { client_id: APP.client_id })).status).toBe(200);
      expect(s256CodeChallenge(c.verifier)).toBe(c.codeChallenge);
    });

    it('FIPA-29: redeemed by another client, with another DPoP key, or with a redirect_uri → refused', async () => {
      const { c, code } = await codeFor();
      refused(await c.redeem(code, { client_id: OTHER_APP.client_id }), 400, 'invalid_grant');
      refused(await c.redeem(code, { client_id: APP.client_id }, {}, await generateClientKeyPair()), 400, 'invalid_grant');
      refused(await c.redeem(code, { client_id: APP.client_id }, { redirect_uri: 'https://app.example.com/cb' }), 400, 'invalid_request');
      expect((await c.redeem(code, { client_id: APP.client_id })).status).toBe(200);
    });

    it('GEN-3: a reused code is refused and the tokens issued from it are revoked', async () => {
      const { c, code } = await codeFor();
      const first = await c.redeem(code, { client_id: APP.client_id });
      expect(first.status).toBe(200);
      const api = async (): Promise<number> => {
        const url = `${suite.issuer}/api/me`;
        const token = first.body.access_token as string;
        return (await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: await createDpopProof(c.key, { htm: 'GET', htu: url, accessToken: token }) } })).status;
      };
      expect(await api()).toBe(200);
      refused(await c.redeem(code, { client_id: APP.client_id }), 400, 'invalid_grant');
      expect(await api()).toBe(401);
      const introspected = await postForm(`${suite.issuer}/introspect`, { token: first.body.refresh_token as string }, { authorization: `Basic ${Buffer.from(`rs:${rsSecret}`).toString('base64')}` });
      expect(introspected.body).toEqual({ active: false });
    });

    it('an expired code is invalid_grant', async () => {
      const { c, code } = await codeFor();
      c.clock = suite.clock;
      suite.clock.advance((suite.config.challenge.codeTtlSeconds + 1) * 1000);
      try {
        refused(await c.redeem(code, { client_id: APP.client_id }), 400, 'invalid_grant');
      } finally {
        suite.clock.reset();
      }
    });

    it('50 concurrent redemptions of one code → exactly one succeeds', async () => {
      const { c, code } = await codeFor();
      c.nonce = await asNonce(suite.issuer);
      const url = `${suite.issuer}/token`;
      const form = { grant_type: 'authorization_code', code, code_verifier: c.verifier, client_id: APP.client_id };
      const proofs = await Promise.all(Array.from({ length: 50 }, () => createDpopProof(c.key, { htm: 'POST', htu: url, nonce: c.nonce })));
      const results = await Promise.all(proofs.map((dpop) => postForm(url, form, { dpop })));
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(results.filter((r) => r.status === 400 && r.body.error === 'invalid_grant')).toHaveLength(49);
      // The refresh-token family starts in the statement that consumes the code: only the winner wrote
      // one, and the losers' reuse (GEN-3) revoked it.
      const winner = results.find((r) => r.status === 200)!;
      expect(typeof winner.body.refresh_token).toBe('string');
      const rows = (await suite.get(DataSource).query(
        `SELECT r.status FROM refresh_tokens r JOIN authorization_codes c ON c.refresh_family_id = r.family_id WHERE c.code_hash = $1`,
        [sha256B64u(code)],
      )) as { status: string }[];
      expect(rows).toEqual([{ status: 'revoked' }]);
      const sessionRows = (await suite.get(DataSource).query(`SELECT count(*)::int AS n FROM refresh_tokens r JOIN authorization_codes c ON c.auth_session = r.auth_session WHERE c.code_hash = $1`, [sha256B64u(code)])) as { n: number }[];
      expect(sessionRows[0].n).toBe(1);
    });
  });
});
