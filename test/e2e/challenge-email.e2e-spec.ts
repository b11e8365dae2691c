import { FirstPartyClient } from '@fpa/client-sdk';
import { decodeJwtUnverified } from '@fpa/crypto';
import { ChallengeClient, DEVICE_CLIENT } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { expectNoStore } from '../support/http';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

const APP = { ...DEVICE_CLIENT, client_id: 'first-party-app', grant_types: ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code'] };

/**
 * The authorization challenge endpoint with email OTP through a real SMTP server (FiPA -04 §5,
 * CONTRACT §5): both ways in, to an authorization code and user-bound DPoP tokens.
 */
describe('authorization challenge: email OTP over SMTP (standalone, PostgreSQL + Redis)', () => {
  let suite: RunningApp;
  let smtp: SmtpSink;

  beforeAll(async () => {
    smtp = await startSmtpSink();
    suite = await startStandalone('challengeemail', { SMTP_URL: smtp.url, CHALLENGE_RESEND_SECONDS: '0' });
    await suite.createClient(APP);
  });
  afterAll(async () => {
    await suite?.close();
    await smtp?.close();
  });

  it('FIPA-7: metadata advertises the endpoint under both names, S256 and the acr values', async () => {
    const md = (await (await fetch(`${suite.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(md.authorization_challenge_endpoint).toBe(`${suite.issuer}/authorize-challenge`);
    expect(md.native_authorization_endpoint).toBe(md.authorization_challenge_endpoint);
    expect(md.code_challenge_methods_supported).toEqual(['S256']);
    expect(md.grant_types_supported).toContain('authorization_code');
    expect(md.acr_values_supported).toContain('urn:first-party-auth:acr:1fa');
  });

  it('(a) public client: DPoP-bound auth_session → email code → authorization_code → user-bound DPoP tokens', async () => {
    const c = await ChallengeClient.create(suite.issuer);
    const first = await c.send({ client_id: APP.client_id, response_type: 'code', scope: 'openid api.read', code_challenge: c.codeChallenge, code_challenge_method: 'S256', login_hint: 'Alice@Example.com' });
    // FIPA-19: insufficient_authorization is 403, with what to collect next.
    expect(first.status).toBe(403);
    expectNoStore(first);
    expect(first.body).toMatchObject({ error: 'insufficient_authorization', challenge_type: 'email_otp', status: 'code_sent', destination: 'a***e@example.com', expires_in: 300, code_length: 6 });
    expect(first.body.auth_session).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const code = await smtp.code('alice@example.com');
    expect(first.text).not.toContain(code);

    const done = await c.send({ code });
    expect(done.status).toBe(200);
    expectNoStore(done);
    expect(done.body).toEqual({ authorization_code: expect.any(String), auth_session: c.authSession });

    const tokens = await c.redeem(done.body.authorization_code as string, { client_id: APP.client_id });
    expect(tokens.status).toBe(200);
    expect(tokens.body).toMatchObject({ token_type: 'DPoP', auth_session: c.authSession, refresh_token: expect.any(String) });
    const at = decodeJwtUnverified(tokens.body.access_token as string).payload;
    expect(at).toMatchObject({
      auth_session: c.authSession,
      cnf: { jkt: c.key.jkt },
      acr: 'urn:first-party-auth:acr:1fa',
      amr: expect.arrayContaining(['otp', 'email']),
      email_verified: true,
      scope: `openid api.read auth_session:${c.authSession}`,
    });
    expect(at.sub).toMatch(/^[0-9a-f-]{36}$/);
    expect(typeof at.auth_time).toBe('number');

    const users = await suite.env.db.query<{ id: string; email: string }>('SELECT id, email FROM users WHERE email = $1', ['alice@example.com']);
    expect(users).toEqual([{ id: at.sub, email: 'alice@example.com' }]);
    const auths = await suite.env.db.query<{ method: string; verified_value: string }>('SELECT method, verified_value FROM user_authentications WHERE auth_session = $1', [c.authSession]);
    expect(auths).toEqual([{ method: 'email_otp', verified_value: 'alice@example.com' }]);
  });

  it('(b) device: the user authentication attaches to the device session; later device tokens carry the user', async () => {
    const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: APP.client_id });
    const reg = await device.register();
    const deviceToken = await device.requestToken();
    expect(decodeJwtUnverified(deviceToken.access_token).payload.sub).toBe(APP.client_id);
    // The API needs a verified email: 403 with a step-up hint (CONTRACT §5, STEP-1).
    const denied = await device.fetchResource(`${suite.issuer}/api/profile`);
    expect(denied.status).toBe(403);
    expect(denied.headers.get('www-authenticate')).toMatch(/^DPoP error="insufficient_user_authentication".*acr_values="urn:first-party-auth:acr:email"/);
    expect(await denied.json()).toMatchObject({ error: 'insufficient_user_authentication', missing: ['email_verified'] });

    // Seed 004: Authorization: DPoP <access token>, body carries the email.
    const c = await ChallengeClient.create(suite.issuer, deviceToken.access_token, device.dpopKey);
    const first = await c.send({ response_type: 'code', email: 'bob@example.com', code_challenge: c.codeChallenge, code_challenge_method: 'S256' });
    expect(first.status).toBe(403);
    expect(first.body).toMatchObject({ error: 'insufficient_authorization', auth_session: reg.auth_session, challenge_type: 'email_otp', status: 'code_sent' });
    const done = await c.send({ code: await smtp.code('bob@example.com') });
    expect(done.status).toBe(200);
    expect(done.body.auth_session).toBe(reg.auth_session);

    // The device redeems with its own assertion and the same DPoP key.
    const tokens = await c.redeem(done.body.authorization_code as string, {
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await device.clientAssertion(),
    }, {}, device.dpopKey);
    expect(tokens.status).toBe(200);
    const at = decodeJwtUnverified(tokens.body.access_token as string).payload;
    expect(at).toMatchObject({ auth_session: reg.auth_session, email_verified: true, cnf: { jkt: device.dpopKey.jkt } });

    // A new client_credentials token for the device now speaks for the user too.
    const after = await device.requestToken();
    expect(decodeJwtUnverified(after.access_token).payload).toMatchObject({ sub: at.sub, email_verified: true, auth_session: reg.auth_session });
    // …and the same API now answers 200.
    const allowed = await device.fetchResource(`${suite.issuer}/api/profile`);
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toMatchObject({ sub: at.sub, email_verified: true });
  });

  it('a wrong code counts; five wrong codes burn the challenge, and the right code no longer works', async () => {
    const c = await ChallengeClient.create(suite.issuer);
    await c.send({ client_id: APP.client_id, response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256', login_hint: 'carol@example.com' });
    const right = await smtp.code('carol@example.com');
    const wrong = right === '000000' ? '111111' : '000000';
    for (let i = 1; i <= 4; i++) {
      const r = await c.send({ code: wrong });
      expect(r.status).toBe(403);
      expect(r.body).toMatchObject({ error: 'insufficient_authorization', status: 'invalid_code', attempts_remaining: 5 - i });
    }
    const fifth = await c.send({ code: wrong });
    expect(fifth.body).toMatchObject({ error: 'insufficient_authorization', status: 'attempts_exceeded' });
    const late = await c.send({ code: right });
    expect(late.status).toBe(400);
    expect(late.body).toMatchObject({ error: 'invalid_request' });
    expect(late.body.authorization_code).toBeUndefined();
  });
});
