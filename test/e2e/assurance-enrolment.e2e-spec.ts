import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { generate } from 'otplib';
import { FirstPartyClient } from '@fpa/client-sdk';
import { decodeJwtUnverified, randomToken } from '@fpa/crypto';
import { AuditService } from '@fpa/platform';
import { ChallengeClient, DEVICE_CLIENT } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import type { FormResponse } from '../support/http';
import { SMS_BODY, startSmsReceiver, type SmsReceiver } from '../support/sms';
import { startSmtpSink, type SmtpSink } from '../support/smtp';
import { SoftwareAuthenticator } from '../support/webauthn';

const APP = { ...DEVICE_CLIENT, client_id: 'assurance-app', grant_types: ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code'] };
const ACR = { oneFactor: 'urn:first-party-auth:acr:1fa', mfa: 'urn:first-party-auth:acr:mfa', phr: 'urn:first-party-auth:acr:phr' };
const RECOVERY_HOLD_SECONDS = 40;

const creation = (res: FormResponse): PublicKeyCredentialCreationOptionsJSON => res.body.public_key_credential_creation_options as PublicKeyCredentialCreationOptionsJSON;
const request = (res: FormResponse): PublicKeyCredentialRequestOptionsJSON => res.body.public_key_credential_request_options as PublicKeyCredentialRequestOptionsJSON;
const claims = (res: FormResponse): Record<string, unknown> => decodeJwtUnverified(res.body.access_token as string).payload;

/**
 * Issue 7 finding 1 (and 3) as attacks through HTTP on real PostgreSQL, Redis, SMTP and an SMS
 * provider: one stolen factor cannot climb by enrolling a credential of its own, the earlier factor
 * must be fresh, recovery is its own path with a hold, and a passkey without user verification is
 * not `mfa`. Each test fails on the issue-3 core.
 */
describe('assurance: enrolment cannot climb (finding 1), recovery, UV (finding 3)', () => {
  let suite: RunningApp;
  let smtp: SmtpSink;
  let sms: SmsReceiver;
  let rp: { rpId: string; origin: string };

  beforeAll(async () => {
    smtp = await startSmtpSink();
    sms = await startSmsReceiver();
    suite = await startStandalone('assuranceenrol', {
      SMTP_URL: smtp.url,
      SMS_PROVIDER_URL: `${sms.url}/sms`,
      SMS_PROVIDER_BODY: SMS_BODY,
      CHALLENGE_RESEND_SECONDS: '0',
      CHALLENGE_RATE_LIMIT_DESTINATION: '1000',
      ENROLMENT_MAX_AGE_SECONDS: '10',
      RECOVERY_HOLD_SECONDS: String(RECOVERY_HOLD_SECONDS),
    });
    await suite.createClient(APP);
    rp = { rpId: new URL(suite.issuer).hostname, origin: new URL(suite.issuer).origin };
  });
  afterAll(async () => {
    await suite?.close();
    await smtp?.close();
    await sms?.close();
  });

  /** A JSON follow-up (a WebAuthn response as an object), with the client's key, nonce and auth_session. */

  /** A new public-client authorization request (new PKCE); `c` keeps its session when it has one. */
  function authorize(c: ChallengeClient, extra: Record<string, string> = {}): Promise<FormResponse> {
    c.verifier = randomToken(32);
    const first: Record<string, string> = c.authSession ? {} : { client_id: APP.client_id, response_type: 'code', scope: 'openid api.read' };
    return c.send({ ...first, code_challenge: c.codeChallenge, code_challenge_method: 'S256', ...extra });
  }

  async function emailCode(c: ChallengeClient, email: string): Promise<FormResponse> {
    const sent = await c.send({ challenge_type: 'email_otp', email });
    expect(sent.body).toMatchObject({ status: 'code_sent' });
    return c.send({ code: await smtp.code(email) });
  }

  async function smsCode(c: ChallengeClient, phone: string): Promise<FormResponse> {
    const sent = await c.send({ challenge_type: 'sms_otp', phone });
    expect(sent.body).toMatchObject({ status: 'code_sent' });
    return c.send({ code: sms.code(phone) });
  }

  async function registerPasskey(c: ChallengeClient, auth: SoftwareAuthenticator, action = 'register'): Promise<FormResponse> {
    const prompt = await c.send({ challenge_type: 'passkey', action });
    expect(prompt.body).toMatchObject({ status: 'registration_required' });
    return c.sendJson({ credential: auth.register(creation(prompt)) });
  }

  async function assertPasskey(c: ChallengeClient, auth: SoftwareAuthenticator, extra: Record<string, string> = {}): Promise<FormResponse> {
    const prompt = Object.keys(extra).length > 0 ? await authorize(c, { challenge_type: 'passkey', ...extra }) : await c.send({ challenge_type: 'passkey' });
    expect(prompt.body).toMatchObject({ status: 'assertion_required' });
    return c.sendJson({ credential: auth.assert(request(prompt)) });
  }

  const credentialsOf = (email: string) =>
    suite.env.db.query<{ method: string; credential_id: string; provisional: boolean; enrolled_by: string }>(
      'SELECT method, credential_id, provisional, enrolled_by FROM user_credentials c JOIN users u ON u.id = c.user_id WHERE u.email = $1 ORDER BY c.created_at',
      [email],
    );

  /**
   * A user who holds a promoted passkey: enrolled on an e-mail code, then used in a later request.
   * A phone is put on the account directly (account management is not the challenge endpoint's:
   * it links no identifier to an existing account).
   */
  async function userWithPasskey(email: string, options: { phone?: string } = {}): Promise<SoftwareAuthenticator> {
    const auth = new SoftwareAuthenticator({ ...rp, backedUp: false });
    const c = await ChallengeClient.create(suite.issuer);
    await authorize(c, { acr_values: ACR.phr, login_hint: email });
    await emailCode(c, email);
    if (options.phone) await suite.env.db.query('UPDATE users SET phone = $2, phone_verified_at = now() WHERE email = $1', [email, options.phone]);
    expect((await registerPasskey(c, auth)).body).toMatchObject({ status: 'enrolled', provisional: true });
    expect((await assertPasskey(c, auth, { acr_values: ACR.phr })).status).toBe(200);
    expect(await credentialsOf(email)).toEqual([expect.objectContaining({ credential_id: auth.id, provisional: false })]);
    return auth;
  }

  it('a victim holds a passkey: with only their e-mail, an attacker cannot enrol another (reauthentication_required, nothing stored)', async () => {
    const email = 'victim1@example.com';
    await userWithPasskey(email);
    const attacker = await ChallengeClient.create(suite.issuer);
    await authorize(attacker, { acr_values: ACR.phr, login_hint: email });
    expect((await emailCode(attacker, email)).status).toBe(403);
    const attempt = await attacker.send({ challenge_type: 'passkey', action: 'register' });
    expect(attempt.status).toBe(403);
    // The factor it needs first is the passkey itself (rank 3): e-mail and TOTP are not offered for it.
    expect(attempt.body).toMatchObject({ error: 'insufficient_authorization', status: 'reauthentication_required', enrolment: 'authentication', methods: ['passkey'] });
    expect(attempt.body).not.toHaveProperty('public_key_credential_creation_options');
    // TOTP is no way around it either.
    expect((await attacker.send({ challenge_type: 'totp', action: 'enroll' })).body).toMatchObject({ status: 'reauthentication_required' });
    expect(await credentialsOf(email)).toHaveLength(1);
  });

  it('TOTP enrolled after an e-mail code does not make mfa in that flow; in a later request e-mail + TOTP does', async () => {
    const email = 'climber@example.com';
    const c = await ChallengeClient.create(suite.issuer);
    await authorize(c, { acr_values: ACR.mfa });
    expect((await emailCode(c, email)).body).toMatchObject({ status: 'additional_method_required' });
    const enrol = await c.send({ challenge_type: 'totp', action: 'enroll' });
    const secret = enrol.body.secret as string;
    const enrolled = await c.send({ code: await generate({ secret }) });
    expect(enrolled.body).toMatchObject({ status: 'enrolled', completed: 'totp', provisional: true });
    expect(enrolled.body.methods).not.toContain('totp');
    // Using the new app anyway in this flow: recorded, not counted, no code.
    const prompt = await c.send({ challenge_type: 'totp' });
    expect(prompt.body).toMatchObject({ status: 'code_required' });
    const climbed = await c.send({ code: await generate({ secret, epoch: suite.clock.nowSeconds() }) });
    expect(climbed.status).toBe(403);
    expect(climbed.body).not.toHaveProperty('authorization_code');

    // A separate request: a fresh e-mail code and the app (a later time step) reach mfa.
    const later = await ChallengeClient.create(suite.issuer);
    await authorize(later, { acr_values: ACR.mfa });
    expect((await emailCode(later, email)).body).toMatchObject({ status: 'additional_method_required', methods: expect.arrayContaining(['totp']) });
    await later.send({ challenge_type: 'totp' });
    // The next time step (the one used above is spent): move the app's clock there rather than wait.
    suite.clock.advance((30 - (suite.clock.nowSeconds() % 30)) * 1000 + 200);
    let done: FormResponse;
    try {
      done = await later.send({ code: await generate({ secret, epoch: suite.clock.nowSeconds() }) });
    } finally {
      suite.clock.reset();
    }
    expect(done.status).toBe(200);
    const tokens = await later.redeem(done.body.authorization_code as string, { client_id: APP.client_id });
    expect(claims(tokens)).toMatchObject({ acr: ACR.mfa, amr: ['otp', 'email', 'mfa'] });
    expect(await credentialsOf(email)).toEqual([expect.objectContaining({ method: 'totp', provisional: false })]);
  });

  it('device way in: the factor behind an enrolment must be fresh (ENROLMENT_MAX_AGE_SECONDS), not a record of any age', async () => {
    const email = 'device-user@example.com';
    const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: APP.client_id });
    await device.register();
    await device.requestToken();
    const first = await ChallengeClient.create(suite.issuer, device.accessToken, device.dpopKey);
    expect((await first.send({ response_type: 'code', email, code_challenge: first.codeChallenge, code_challenge_method: 'S256' })).body).toMatchObject({ status: 'code_sent' });
    expect((await first.send({ code: await smtp.code(email) })).status).toBe(200);

    // 15 s later the e-mail code is older than ENROLMENT_MAX_AGE_SECONDS (10): no enrolment on it.
    suite.clock.advance(15_000);
    try {
      await device.requestToken();
      const c = await ChallengeClient.create(suite.issuer, device.accessToken, device.dpopKey);
      const stale = await c.send({ response_type: 'code', challenge_type: 'passkey', action: 'register' });
      expect(stale.body).toMatchObject({ error: 'insufficient_authorization', status: 'reauthentication_required', methods: expect.arrayContaining(['email_otp']) });
      // A fresh e-mail code in this request allows it.
      await c.send({ challenge_type: 'email_otp', email });
      expect((await c.send({ code: await smtp.code(email) })).status).toBe(200);
      const auth = new SoftwareAuthenticator(rp);
      const again = await ChallengeClient.create(suite.issuer, device.accessToken, device.dpopKey);
      const reg = await again.send({ response_type: 'code', challenge_type: 'passkey', action: 'register' });
      expect(reg.body).toMatchObject({ status: 'registration_required' });
      expect((await again.sendJson({ credential: auth.register(creation(reg)) })).status).toBe(200);
      expect(await credentialsOf(email)).toEqual([expect.objectContaining({ method: 'passkey', provisional: true })]);
    } finally {
      suite.clock.reset();
    }
  });

  it('recovery (a lost passkey): every identifier fresh, then a replacement on hold that proves nothing stronger until the hold ends and a later request uses it', async () => {
    const email = 'recoverer@example.com';
    const phone = '+447700900123';
    await userWithPasskey(email, { phone });
    const replacement = new SoftwareAuthenticator({ ...rp, backedUp: false });

    const c = await ChallengeClient.create(suite.issuer);
    await authorize(c, { acr_values: ACR.phr, login_hint: email });
    await emailCode(c, email);
    // The account has a phone too: the e-mail alone does not open recovery.
    expect((await c.send({ challenge_type: 'passkey', action: 'recover' })).body).toMatchObject({ status: 'reauthentication_required', enrolment: 'recovery', methods: ['sms_otp'] });
    await smsCode(c, phone);
    const recovered = await registerPasskey(c, replacement, 'recover');
    expect(recovered.body).toMatchObject({ status: 'enrolled', provisional: true });
    expect(await credentialsOf(email)).toEqual([expect.objectContaining({ enrolled_by: 'authentication' }), expect.objectContaining({ credential_id: replacement.id, provisional: true, enrolled_by: 'recovery' })]);
    await suite.get(AuditService).flush();
    const [audit] = await suite.env.db.query<{ details: Record<string, unknown> }>("SELECT details FROM audit_events WHERE event_type = 'credential.recovered'");
    expect(audit?.details).toMatchObject({ method: 'passkey', provisional: true, trustedAfter: expect.any(String) });

    // On hold: a later request with it reaches nothing (the assertion does not count).
    const held = await ChallengeClient.create(suite.issuer);
    await authorize(held, { acr_values: ACR.phr, challenge_type: 'passkey' }).then(async (p) => {
      const res = await held.sendJson({ credential: replacement.assert(request(p)) });
      expect(res.status).toBe(403);
      expect(res.body).not.toHaveProperty('authorization_code');
    });

    suite.clock.advance((RECOVERY_HOLD_SECONDS + 1) * 1000);
    try {
      const after = await ChallengeClient.create(suite.issuer, undefined, undefined, { clock: suite.clock });
      const prompt = await authorize(after, { acr_values: ACR.phr, challenge_type: 'passkey' });
      const done = await after.sendJson({ credential: replacement.assert(request(prompt)) });
      expect(done.status).toBe(200);
      expect(await credentialsOf(email)).toEqual([expect.anything(), expect.objectContaining({ credential_id: replacement.id, provisional: false })]);
    } finally {
      suite.clock.reset();
    }
  });

  it('finding 3: a passkey without user verification is one factor — phr, not mfa; with UV it is mfa', async () => {
    const email = 'uv@example.com';
    const noUv = new SoftwareAuthenticator({ ...rp, userVerified: false, backedUp: false });
    const c = await ChallengeClient.create(suite.issuer);
    await authorize(c, { acr_values: ACR.phr, login_hint: email });
    await emailCode(c, email);
    await registerPasskey(c, noUv);

    const mfa = await ChallengeClient.create(suite.issuer);
    const attempt = await assertPasskey(mfa, noUv, { acr_values: ACR.mfa });
    expect(attempt.status).toBe(403);
    // Another factor is still needed (an e-mail code, say) — not a code for a presence-only key.
    expect(attempt.body).toMatchObject({ error: 'insufficient_authorization', status: 'additional_method_required', methods: expect.arrayContaining(['email_otp']) });
    const done = await emailCode(mfa, email);
    expect(done.status).toBe(200);
    const tokens = await mfa.redeem(done.body.authorization_code as string, { client_id: APP.client_id });
    expect(claims(tokens)).toMatchObject({ acr: ACR.mfa, amr: ['hwk', 'user', 'otp', 'email', 'mfa'] });

    const phr = await ChallengeClient.create(suite.issuer);
    const alone = await assertPasskey(phr, noUv, { acr_values: ACR.phr });
    expect(alone.status).toBe(200);
    const phrTokens = await phr.redeem(alone.body.authorization_code as string, { client_id: APP.client_id });
    expect(claims(phrTokens)).toMatchObject({ acr: ACR.phr, amr: ['hwk', 'user'] });

    // Another user with a passkey that verifies the user: one assertion is two factors.
    const uv = new SoftwareAuthenticator({ ...rp, userVerified: true, backedUp: false });
    const setup = await ChallengeClient.create(suite.issuer);
    await authorize(setup, { acr_values: ACR.phr, login_hint: 'uv2@example.com' });
    await emailCode(setup, 'uv2@example.com');
    await registerPasskey(setup, uv);
    const single = await ChallengeClient.create(suite.issuer);
    const once = await assertPasskey(single, uv, { acr_values: ACR.mfa });
    expect(once.status).toBe(200);
    const uvTokens = await single.redeem(once.body.authorization_code as string, { client_id: APP.client_id });
    expect(claims(uvTokens)).toMatchObject({ acr: ACR.mfa, amr: ['hwk', 'user', 'mfa'] });
  });
});
