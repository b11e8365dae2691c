import { FirstPartyClient } from '@fpa/client-sdk';
import { decodeJwtUnverified } from '@fpa/crypto';
import { ChallengeClient, DEVICE_CLIENT } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { expectNoStore, expectOAuthError, type FormResponse } from '../support/http';
import { SMS_BODY, startSmsReceiver, type SmsReceiver } from '../support/sms';

const APP = { ...DEVICE_CLIENT, client_id: 'first-party-app', grant_types: ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code'] };
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Every code the provider was handed must stay out of every HTTP answer the clients saw. */
function expectNoCodeLeaked(sms: SmsReceiver, responses: readonly FormResponse[]): void {
  const codes = sms.requests.map((r) => /code is (\d{4,10})/.exec(r.body?.text ?? '')?.[1]).filter((c): c is string => c !== undefined);
  expect(codes.length).toBeGreaterThan(0);
  expect(responses.length).toBeGreaterThan(0);
  for (const res of responses) for (const code of codes) expect(res.text).not.toContain(code);
}

/** Starts a public-client flow for `loginHint` (FiPA -04 §5.1, way in (a)). */
function beginPublic(c: ChallengeClient, loginHint: string, extra: Record<string, string> = {}): Promise<FormResponse> {
  return c.send({ client_id: APP.client_id, response_type: 'code', scope: 'openid api.read', code_challenge: c.codeChallenge, code_challenge_method: 'S256', login_hint: loginHint, ...extra });
}

/**
 * The authorization challenge endpoint with SMS OTP through a real HTTP SMS provider (FiPA -04 §5,
 * CONTRACT §5): both ways in, to an authorization code and phone-verified DPoP tokens; provider
 * failures and malformed numbers refused with the contract's errors. The resend throttle and the cap
 * per number are in rate-limits.e2e-spec.ts, with every other limit.
 */
describe('authorization challenge: SMS OTP through an HTTP provider (standalone, PostgreSQL + Redis)', () => {
  let sms: SmsReceiver;
  /** Every response from the challenge endpoint and /token, checked for leaked codes. */
  const seen: FormResponse[] = [];
  const record = async (p: Promise<FormResponse>): Promise<FormResponse> => {
    const res = await p;
    seen.push(res);
    return res;
  };

  beforeAll(async () => {
    sms = await startSmsReceiver();
  });
  afterAll(async () => {
    await sms?.close();
  });
  beforeEach(() => {
    sms.mode = 'ok';
  });

  describe('delivery through the provider (CHALLENGE_RESEND_SECONDS=0)', () => {
    let suite: RunningApp;

    beforeAll(async () => {
      suite = await startStandalone('challengesms', {
        SMS_PROVIDER_URL: `${sms.url}/messages`,
        SMS_PROVIDER_AUTHORIZATION: 'Bearer test-token',
        SMS_PROVIDER_BODY: SMS_BODY,
        CHALLENGE_RESEND_SECONDS: '0',
      });
      await suite.createClient(APP);
    });
    afterAll(async () => {
      await suite?.close();
    });

    it('(a) public client: login_hint phone → SMS via the provider → authorization_code → phone-verified DPoP tokens', async () => {
      const c = await ChallengeClient.create(suite.issuer);
      const first = await record(beginPublic(c, '+44 7700 900123'));
      // FIPA-19: insufficient_authorization is 403, with what to collect next and a masked destination.
      expect(first.status).toBe(403);
      expectNoStore(first);
      expect(first.body).toMatchObject({ error: 'insufficient_authorization', challenge_type: 'sms_otp', status: 'code_sent', destination: '+44******0123', code_length: 6, expires_in: 300 });
      expect(first.body.auth_session).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(first.text).not.toContain('+447700900123');

      // The provider got one POST with the configured Authorization and the templated JSON body.
      const [sent, ...more] = sms.to('+447700900123');
      expect(more).toEqual([]);
      expect(sent.method).toBe('POST');
      expect(sent.url).toBe('/messages');
      expect(sent.headers.authorization).toBe('Bearer test-token');
      expect(sent.headers['content-type']).toMatch(/^application\/json/);
      expect(sent.body).toEqual({ recipient: '+447700900123', text: expect.stringMatching(/code is \d{6}\b/), sender: 'FPA' });
      expect(Object.keys(JSON.parse(sent.raw) as object)).toEqual(['recipient', 'text', 'sender']);
      const code = sms.code('+447700900123');
      expect(first.text).not.toContain(code);

      const done = await record(c.send({ code }));
      expect(done.status).toBe(200);
      expectNoStore(done);
      expect(done.body).toEqual({ authorization_code: expect.any(String), auth_session: c.authSession });

      const tokens = await record(c.redeem(done.body.authorization_code as string, { client_id: APP.client_id }));
      expect(tokens.status).toBe(200);
      expect(tokens.body).toMatchObject({ token_type: 'DPoP', auth_session: c.authSession });
      const at = decodeJwtUnverified(tokens.body.access_token as string).payload;
      expect(at).toMatchObject({
        auth_session: c.authSession,
        cnf: { jkt: c.key.jkt },
        acr: 'urn:first-party-auth:acr:1fa',
        amr: expect.arrayContaining(['sms', 'otp']),
        phone_number_verified: true,
      });
      expect(at).not.toHaveProperty('email_verified');
      expect(at.sub).toMatch(/^[0-9a-f-]{36}$/);

      const users = await suite.env.db.query<{ id: string; phone: string }>('SELECT id, phone FROM users WHERE phone = $1', ['+447700900123']);
      expect(users).toEqual([{ id: at.sub, phone: '+447700900123' }]);
      const auths = await suite.env.db.query<{ method: string; verified_value: string }>('SELECT method, verified_value FROM user_authentications WHERE auth_session = $1', [c.authSession]);
      expect(auths).toEqual([{ method: 'sms_otp', verified_value: '+447700900123' }]);

      // The code was single use: the same code on the same session does not yield another authorization code.
      const again = await record(c.send({ code }));
      expectOAuthError(again, 400, 'invalid_request');
    });

    it('(b) device: Authorization: DPoP <device token> and phone= attach the verified phone to the device session', async () => {
      const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: APP.client_id });
      const reg = await device.register();
      const deviceToken = await device.requestToken();
      expect(decodeJwtUnverified(deviceToken.access_token).payload).not.toHaveProperty('phone_number_verified');

      // Seed 004: the body carries the phone; the token's auth_session is the session.
      const c = await ChallengeClient.create(suite.issuer, deviceToken.access_token, device.dpopKey);
      const first = await record(c.send({ response_type: 'code', phone: '+1 (415) 555-0100', code_challenge: c.codeChallenge, code_challenge_method: 'S256' }));
      expect(first.status).toBe(403);
      expectNoStore(first);
      expect(first.body).toMatchObject({ error: 'insufficient_authorization', auth_session: reg.auth_session, challenge_type: 'sms_otp', status: 'code_sent', destination: '+14*****0100' });
      expect(sms.to('+14155550100')).toHaveLength(1);

      const done = await record(c.send({ code: sms.code('+14155550100') }));
      expect(done.status).toBe(200);
      expect(done.body.auth_session).toBe(reg.auth_session);

      const tokens = await record(c.redeem(done.body.authorization_code as string, { client_assertion_type: ASSERTION_TYPE, client_assertion: await device.clientAssertion() }, {}, device.dpopKey));
      expect(tokens.status).toBe(200);
      const at = decodeJwtUnverified(tokens.body.access_token as string).payload;
      expect(at).toMatchObject({ auth_session: reg.auth_session, phone_number_verified: true, amr: expect.arrayContaining(['sms', 'otp']), cnf: { jkt: device.dpopKey.jkt } });

      // Later device tokens speak for the user too.
      const after = await device.requestToken();
      expect(decodeJwtUnverified(after.access_token).payload).toMatchObject({ sub: at.sub, phone_number_verified: true, auth_session: reg.auth_session });
    });

    it('a wrong code is counted and refused without a code', async () => {
      const c = await ChallengeClient.create(suite.issuer);
      await record(beginPublic(c, '+44 7700 900124'));
      const right = sms.code('+447700900124');
      const wrong = await record(c.send({ code: right === '000000' ? '111111' : '000000' }));
      expect(wrong.status).toBe(403);
      expectNoStore(wrong);
      expect(wrong.body).toMatchObject({ error: 'insufficient_authorization', challenge_type: 'sms_otp', status: 'invalid_code', attempts_remaining: 4 });
      expect(wrong.body.authorization_code).toBeUndefined();
      const ok = await record(c.send({ code: right }));
      expect(ok.status).toBe(200);
    });

    it('provider answers 500 → 503 temporarily_unavailable with Retry-After; no usable challenge is left; a new begin works once fixed', async () => {
      const c = await ChallengeClient.create(suite.issuer);
      sms.mode = 'fail';
      const failed = await record(beginPublic(c, '+44 7700 900125'));
      expectOAuthError(failed, 503, 'temporarily_unavailable');
      expect(failed.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(failed.body.error_description).toMatch(/SMS/);
      // The provider saw the message (and its code) but refused it.
      expect(sms.to('+447700900125')).toHaveLength(1);
      const undelivered = sms.code('+447700900125');

      // FIPA-17: the 503 carries the auth_session that was created, so the client can go on; answering
      // it — even with the code the provider refused to deliver, or any other — yields no code.
      sms.mode = 'ok';
      expect(failed.body.auth_session).toEqual(expect.any(String));
      expect(c.authSession).toBe(failed.body.auth_session);
      for (const code of [undelivered, '123456']) {
        const lost = await record(c.send({ code }));
        expectOAuthError(lost, 400, 'invalid_request');
        expect(lost.body.error_description).toMatch(/no challenge is in progress/);
      }
      c.authSession = undefined;

      // Once the provider is fixed, a new begin sends a fresh code that completes the flow.
      const retry = await record(beginPublic(c, '+44 7700 900125'));
      expect(retry.status).toBe(403);
      expect(retry.body).toMatchObject({ error: 'insufficient_authorization', challenge_type: 'sms_otp', status: 'code_sent' });
      expect(sms.to('+447700900125')).toHaveLength(2);
      const fresh = sms.code('+447700900125');
      if (fresh !== undelivered) {
        const old = await record(c.send({ code: undelivered }));
        expect(old.status).toBe(403);
        expect(old.body).toMatchObject({ error: 'insufficient_authorization', status: 'invalid_code' });
      }
      const done = await record(c.send({ code: fresh }));
      expect(done.status).toBe(200);
      expect(done.body.authorization_code).toEqual(expect.any(String));
    });

    it('provider fails on a follow-up begin (a resend) → 503, and the code already delivered still works', async () => {
      const c = await ChallengeClient.create(suite.issuer);
      const first = await record(beginPublic(c, '+44 7700 900126'));
      expect(first.status).toBe(403);
      const firstCode = sms.code('+447700900126');
      // A resend (explicit challenge_type) while the provider is down.
      sms.mode = 'fail';
      const failed = await record(c.send({ challenge_type: 'sms_otp', action: 'resend' }));
      expectOAuthError(failed, 503, 'temporarily_unavailable');
      expect(failed.headers.get('retry-after')).toMatch(/^\d+$/);
      const undelivered = sms.code('+447700900126');
      expect(sms.to('+447700900126')).toHaveLength(2);
      sms.mode = 'ok';

      // Nothing was sent, so the flow is as before the resend: the undelivered code is wrong, the delivered one works.
      if (undelivered !== firstCode) {
        const wrong = await record(c.send({ code: undelivered }));
        expect(wrong.status).toBe(403);
        expect(wrong.body).toMatchObject({ error: 'insufficient_authorization', status: 'invalid_code' });
      }
      const done = await record(c.send({ code: firstCode }));
      expect(done.status).toBe(200);
    });

    it('a provider that never answers → 503 temporarily_unavailable after the adapter’s timeout', async () => {
      const c = await ChallengeClient.create(suite.issuer);
      sms.mode = 'hang';
      const started = Date.now();
      const res = await record(beginPublic(c, '+44 7700 900127'));
      expectOAuthError(res, 503, 'temporarily_unavailable');
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(sms.to('+447700900127')).toHaveLength(1);
    });

    it('an invalid phone number → 400 invalid_request, and nothing is sent', async () => {
      const before = sms.requests.length;
      // (a) public client naming sms_otp with a hint that is no E.164 number.
      const c = await ChallengeClient.create(suite.issuer);
      const bad = await record(beginPublic(c, '07700 900123', { challenge_type: 'sms_otp' }));
      expectOAuthError(bad, 400, 'invalid_request');
      expect(bad.body.error_description).toMatch(/phone|E\.164/i);

      // (b) a device sending phone= that is not a number.
      const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: APP.client_id });
      await device.register();
      const token = await device.requestToken();
      const d = await ChallengeClient.create(suite.issuer, token.access_token, device.dpopKey);
      for (const phone of ['+0 1234 5678', 'call me', '+1 555']) {
        const r = await record(d.send({ response_type: 'code', phone }));
        expectOAuthError(r, 400, 'invalid_request');
      }
      expect(sms.requests.length).toBe(before);
    });

    it('the SMS code never appears in any HTTP response body', () => {
      expectNoCodeLeaked(sms, seen);
    });
  });
});
