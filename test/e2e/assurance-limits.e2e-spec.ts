import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { generate } from 'otplib';
import { FirstPartyClient } from '@fpa/client-sdk';
import { createDpopProof, decodeJwtUnverified, randomToken } from '@fpa/crypto';
import { InteractionMetrics } from '@fpa/interaction';
import { ChallengeClient, DEVICE_CLIENT } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { ASSERTION_TYPE, expectNoStore, type FormResponse } from '../support/http';
import { SMS_BODY, startSmsReceiver, type SmsReceiver } from '../support/sms';
import { startSmtpSink, type SmtpSink } from '../support/smtp';
import { SoftwareAuthenticator } from '../support/webauthn';

const APP = { ...DEVICE_CLIENT, client_id: 'limits-app', grant_types: ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code'] };
const ACR = { oneFactor: 'urn:first-party-auth:acr:1fa', mfa: 'urn:first-party-auth:acr:mfa', phr: 'urn:first-party-auth:acr:phr' };
const LOCKOUT = { threshold: 4, seconds: 30 };
const LIFETIME = { idle: 600, absolute: 1500, challenge: 120 };

/**
 * Issue 7 findings 2, 4, 5 and 6, and the tests the issue says were missing (a proof jti claimed on
 * follow-ups, max_age honoured, redirect_to_web counted once), through HTTP on real PostgreSQL,
 * Redis, SMTP and an SMS provider. Time moves with the app's TestClock, never with sleeps.
 */
describe('assurance: lockouts, max_age, session lifetimes, hostile acr_values', () => {
  let suite: RunningApp;
  let smtp: SmtpSink;
  let sms: SmsReceiver;

  beforeAll(async () => {
    smtp = await startSmtpSink();
    sms = await startSmsReceiver();
    suite = await startStandalone('assurancelimits', {
      SMTP_URL: smtp.url,
      SMS_PROVIDER_URL: `${sms.url}/sms`,
      SMS_PROVIDER_BODY: SMS_BODY,
      CHALLENGE_RESEND_SECONDS: '0',
      CHALLENGE_RATE_LIMIT_DESTINATION: '1000',
      CHALLENGE_RATE_LIMIT_SESSION: '1000',
      AUTH_LOCKOUT_THRESHOLD: String(LOCKOUT.threshold),
      AUTH_LOCKOUT_SECONDS: String(LOCKOUT.seconds),
      AUTH_LOCKOUT_MAX_SECONDS: '120',
      SESSION_IDLE_TTL_SECONDS: String(LIFETIME.idle),
      SESSION_MAX_LIFETIME_SECONDS: String(LIFETIME.absolute),
      CHALLENGE_SESSION_TTL_SECONDS: String(LIFETIME.challenge),
      CHALLENGE_FLOW_TTL_SECONDS: '3600',
      ACCESS_TOKEN_TTL_SECONDS: '3600',
    });
    await suite.createClient(APP);
  });
  afterEach(() => suite.clock.reset());
  afterAll(async () => {
    await suite?.close();
    await smtp?.close();
    await sms?.close();
  });

  /** A client whose proofs follow the app's clock (so moving it expires what the app stored, not the proofs). */
  const client = (accessToken?: string, key?: Parameters<typeof ChallengeClient.create>[2]): Promise<ChallengeClient> => ChallengeClient.create(suite.issuer, accessToken, key, { clock: suite.clock });

  function authorize(c: ChallengeClient, extra: Record<string, string> = {}): Promise<FormResponse> {
    c.verifier = randomToken(32);
    const first: Record<string, string> = c.authSession ? {} : { client_id: APP.client_id, response_type: 'code', scope: 'openid api.read' };
    return c.send({ ...first, code_challenge: c.codeChallenge, code_challenge_method: 'S256', ...extra });
  }

  async function emailCode(c: ChallengeClient, email: string): Promise<FormResponse> {
    expect((await c.send({ challenge_type: 'email_otp', email })).body).toMatchObject({ status: 'code_sent' });
    return c.send({ code: await smtp.code(email) });
  }


  describe('finding 2: wrong answers count per secret in PostgreSQL, across challenges, sessions and keys', () => {
    /** A user with an enrolled TOTP app; returns the seed. */
    async function userWithTotp(email: string): Promise<string> {
      const c = await client();
      await authorize(c);
      expect((await emailCode(c, email)).status).toBe(200);
      const enrol = await authorize(c, { challenge_type: 'totp', action: 'enroll' });
      const secret = enrol.body.secret as string;
      expect((await c.send({ code: await generate({ secret, epoch: suite.clock.nowSeconds() }) })).status).toBe(200);
      return secret;
    }

    /** A fresh session (new DPoP key) up to the TOTP prompt of an mfa request. */
    async function totpPrompt(email: string): Promise<ChallengeClient> {
      const c = await client();
      await authorize(c, { acr_values: ACR.mfa });
      expect((await emailCode(c, email)).body).toMatchObject({ status: 'additional_method_required' });
      expect((await c.send({ challenge_type: 'totp' })).body).toMatchObject({ status: 'code_required' });
      return c;
    }

    it('TOTP guessing spread over restarted challenges and new sessions locks the user out, with backoff; the right code then waits too', async () => {
      const email = 'totp-guess@example.com';
      const secret = await userWithTotp(email);
      const now = suite.clock.nowSeconds();
      const valid = await Promise.all([-1, 0, 1].map((d) => generate({ secret, epoch: now + d * 30 })));
      const wrong = ['000000', '111111', '222222', '333333', '444444', '555555'].filter((x) => !valid.includes(x));

      // Two guesses in one session, two in another (each a new DPoP key and a new challenge).
      for (const c of [await totpPrompt(email), await totpPrompt(email)]) {
        for (let i = 0; i < 2; i++) expect((await c.send({ code: wrong[i] })).body).toMatchObject({ status: 'invalid_code' });
      }
      // The threshold is reached: a third session's answer is not even checked — right or wrong.
      const third = await totpPrompt(email);
      const locked = await third.send({ code: await generate({ secret, epoch: suite.clock.nowSeconds() }) });
      expect(locked.status).toBe(403);
      expectNoStore(locked);
      expect(locked.body).toMatchObject({ error: 'insufficient_authorization', status: 'locked', challenge_type: 'totp' });
      expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(Number(locked.headers.get('retry-after'))).toBeLessThanOrEqual(LOCKOUT.seconds);
      expect(locked.body).not.toHaveProperty('authorization_code');

      // After the lock: one more wrong guess doubles it.
      suite.clock.advance((LOCKOUT.seconds + 1) * 1000);
      expect((await third.send({ code: wrong[2] })).body).toMatchObject({ status: 'invalid_code' });
      const again = await third.send({ code: wrong[3] });
      expect(again.body).toMatchObject({ status: 'locked' });
      expect(Number(again.headers.get('retry-after'))).toBeGreaterThan(LOCKOUT.seconds);

      // Once it lifts, the right code (a later step than the enrolment's) works and clears the count.
      suite.clock.advance((2 * LOCKOUT.seconds + 31) * 1000);
      const fresh = await totpPrompt(email);
      const done = await fresh.send({ code: await generate({ secret, epoch: suite.clock.nowSeconds() }) });
      expect(done.status).toBe(200);
      const metric = (await suite.get(InteractionMetrics).lockouts.get()).values.find((v) => v.labels.method === 'totp');
      expect(metric?.value).toBe(2);
    });

    it('e-mail codes: wrong answers count per address across sessions, so new sessions do not reset them', async () => {
      const email = 'otp-guess@example.com';
      for (let s = 0; s < 2; s++) {
        const c = await client();
        await authorize(c);
        await c.send({ challenge_type: 'email_otp', email });
        const code = await smtp.code(email);
        const bad = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
        for (let i = 0; i < 2; i++) expect((await c.send({ code: bad })).body).toMatchObject({ status: 'invalid_code' });
      }
      const c = await client();
      await authorize(c);
      await c.send({ challenge_type: 'email_otp', email });
      const right = await c.send({ code: await smtp.code(email) });
      expect(right.body).toMatchObject({ status: 'locked', challenge_type: 'email_otp' });
    });
  });

  it('finding 4: a passkey at T0 does not lend hwk to an e-mail code at T1 under max_age; tokens say what satisfied the request, and when', async () => {
    const email = 'maxage@example.com';
    // Alice on a device: e-mail, then a passkey enrolled and (in a later request) used → phr.
    const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: APP.client_id });
    await device.register();
    await device.requestToken();
    const auth = new SoftwareAuthenticator({ rpId: new URL(suite.issuer).hostname, origin: new URL(suite.issuer).origin, backedUp: false });
    const first = await client(device.accessToken, device.dpopKey);
    expect((await first.send({ response_type: 'code', email })).body).toMatchObject({ status: 'code_sent' });
    expect((await first.send({ code: await smtp.code(email) })).status).toBe(200);
    const reg = await client(device.accessToken, device.dpopKey);
    const prompt = await reg.send({ response_type: 'code', challenge_type: 'passkey', action: 'register' });
    expect((await reg.sendJson({ credential: auth.register(prompt.body.public_key_credential_creation_options as PublicKeyCredentialCreationOptionsJSON) })).status).toBe(200);
    const phr = await client(device.accessToken, device.dpopKey);
    const ask = await phr.send({ response_type: 'code', acr_values: ACR.phr, challenge_type: 'passkey' });
    const t0 = suite.clock.nowSeconds();
    const passed = await phr.sendJson({ credential: auth.assert(ask.body.public_key_credential_request_options as PublicKeyCredentialRequestOptionsJSON) });
    expect(passed.status).toBe(200);
    await device.requestToken();
    expect(decodeJwtUnverified(device.accessToken!).payload).toMatchObject({ acr: ACR.phr, amr: ['hwk', 'user', 'mfa'] });

    // 20 s later, a step-up asks for mfa within max_age=5: only an e-mail code is fresh.
    suite.clock.advance(20_000);
    const stepUp = await client(device.accessToken, device.dpopKey);
    expect((await stepUp.send({ response_type: 'code', acr_values: ACR.mfa, max_age: '5', email, code_challenge: stepUp.codeChallenge, code_challenge_method: 'S256' })).body).toMatchObject({ status: 'code_sent' });
    const t1 = suite.clock.nowSeconds();
    const emailed = await stepUp.send({ code: await smtp.code(email) });
    // Not satisfied: the passkey is too old to count, one e-mail code is one factor.
    expect(emailed.status).toBe(403);
    expect(emailed.body).toMatchObject({ status: 'additional_method_required' });
    // The session's summary is untouched by an unsatisfied request: still the passkey at T0, never hwk "at T1".
    const between = await suite.env.db.query<{ amr: string[]; auth_time: Date; acr: string }>('SELECT amr, auth_time, acr FROM device_sessions WHERE auth_session = $1', [device.authSession]);
    expect(between[0]).toMatchObject({ amr: ['hwk', 'user', 'mfa'], acr: ACR.phr });
    expect(Math.floor(new Date(between[0].auth_time).getTime() / 1000)).toBeLessThanOrEqual(t0 + 1);

    // A fresh passkey completes it: amr and auth_time are the passkey's (the smallest fresh set), not a mix.
    const assertion = await stepUp.send({ challenge_type: 'passkey' });
    const done = await stepUp.sendJson({ credential: auth.assert(assertion.body.public_key_credential_request_options as PublicKeyCredentialRequestOptionsJSON) });
    expect(done.status).toBe(200);
    const tokens = await stepUp.redeem(done.body.authorization_code as string, { client_assertion_type: ASSERTION_TYPE, client_assertion: await device.clientAssertion() }, {}, device.dpopKey);
    const at = decodeJwtUnverified(tokens.body.access_token as string).payload;
    expect(at).toMatchObject({ acr: ACR.mfa, amr: ['hwk', 'user', 'mfa'] });
    expect(at.auth_time as number).toBeGreaterThanOrEqual(t1);
  });

  describe('finding 5: an absolute lifetime, an idle lifetime, and no extension without the user', () => {
    it('a code issued without user interaction extends nothing; an empty follow-up mints no code', async () => {
      const c = await client();
      await authorize(c);
      expect((await emailCode(c, 'idle@example.com')).status).toBe(200);
      // Nothing in progress and nothing asked: not an authorization request.
      const empty = await c.send({});
      expect(empty.status).toBe(400);
      expect(empty.body).toMatchObject({ error: 'invalid_request', auth_session: c.authSession });

      // Near the end of the idle lifetime, a new request is satisfied by the earlier e-mail code (no
      // interaction): a code, but the session's end does not move.
      suite.clock.advance((LIFETIME.idle - 60) * 1000);
      const [{ expires_at: before }] = await suite.env.db.query<{ expires_at: Date }>('SELECT expires_at FROM device_sessions WHERE auth_session = $1', [c.authSession]);
      const silent = await authorize(c);
      expect(silent.status).toBe(200);
      const [{ expires_at: after }] = await suite.env.db.query<{ expires_at: Date }>('SELECT expires_at FROM device_sessions WHERE auth_session = $1', [c.authSession]);
      expect(new Date(after).getTime()).toBe(new Date(before).getTime());
      suite.clock.advance(61_000);
      expect((await authorize(c)).body).toMatchObject({ error: 'invalid_session' });
    });

    it('user interaction extends the idle lifetime, never past the absolute lifetime; refresh stops there too', async () => {
      const c = await client();
      const email = 'absolute@example.com';
      await authorize(c);
      const first = await emailCode(c, email);
      const tokens = await c.redeem(first.body.authorization_code as string, { client_id: APP.client_id });
      expect(tokens.status).toBe(200);
      // Re-authenticate every ~9 minutes: each one extends the session by the idle lifetime…
      for (let i = 0; i < 2; i++) {
        suite.clock.advance((LIFETIME.idle - 60) * 1000);
        await authorize(c, { max_age: '0' });
        expect((await emailCode(c, email)).status).toBe(200);
      }
      // …until the absolute lifetime (1500 s from creation) ends it, whatever the last extension said.
      suite.clock.advance((LIFETIME.absolute - 2 * (LIFETIME.idle - 60) - 30) * 1000);
      expect((await authorize(c)).status).toBe(200);
      suite.clock.advance(60_000);
      expect((await authorize(c)).body).toMatchObject({ error: 'invalid_session' });
      const refreshed = await c.redeem('unused', { client_id: APP.client_id }, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string });
      expect(refreshed.body).toMatchObject({ error: 'invalid_grant' });
    });
  });

  it('finding 6: acr_values naming Object.prototype members are invalid_request, never a 500', async () => {
    for (const acr of ['constructor', '__proto__', 'toString', 'hasOwnProperty', `${ACR.mfa} constructor`]) {
      const c = await client();
      const res = await authorize(c, { acr_values: acr });
      expect({ acr, status: res.status, error: res.body.error }).toEqual({ acr, status: 400, error: 'invalid_request' });
      expectNoStore(res);
    }
  });

  it('a DPoP proof is single use on follow-ups too (its jti is claimed before anything happens)', async () => {
    const c = await client();
    await authorize(c);
    const url = `${suite.issuer}/authorize-challenge`;
    const proof = await createDpopProof(c.key, { htm: 'POST', htu: url, nonce: c.nonce });
    expect((await c.send({ challenge_type: 'email_otp', email: 'replay@example.com' }, { proof })).body).toMatchObject({ status: 'code_sent' });
    const replayed = await c.send({ code: await smtp.code('replay@example.com') }, { proof });
    expect(replayed.status).toBe(400);
    expect(replayed.body).toMatchObject({ error: 'invalid_dpop_proof' });
  });

  it('a phone that is not on the account is refused (no account linking, no user created)', async () => {
    const c = await client();
    await authorize(c, { acr_values: ACR.mfa });
    expect((await emailCode(c, 'nolink@example.com')).status).toBe(403);
    await c.send({ challenge_type: 'sms_otp', phone: '+447700900999' });
    const res = await c.send({ code: sms.code('+447700900999') });
    expect(res.body).toMatchObject({ error: 'access_denied' });
    expect(await suite.env.db.query('SELECT 1 FROM users WHERE phone = $1', ['+447700900999'])).toHaveLength(0);
  });

  it('redirect_to_web is counted once in fpa_challenge_outcomes_total', async () => {
    const count = async (): Promise<number> => (await suite.get(InteractionMetrics).outcomes.get()).values.find((v) => v.labels.outcome === 'redirect_to_web')?.value ?? 0;
    const before = await count();
    const c = await client();
    // A client whose policy offers only e-mail cannot reach phr natively.
    await suite.createClient({ ...APP, client_id: 'email-only-app', challenge_policy: { methods: ['email_otp'] } });
    const res = await c.send({ client_id: 'email-only-app', response_type: 'code', acr_values: ACR.phr, code_challenge: c.codeChallenge, code_challenge_method: 'S256' });
    expect(res.body).toMatchObject({ error: 'redirect_to_web', request_uri: expect.stringMatching(/^urn:ietf:params:oauth:request_uri:/) });
    expect(await count()).toBe(before + 1);
  });
});
