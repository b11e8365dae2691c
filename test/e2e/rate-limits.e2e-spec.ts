import { generateKeyPairSync } from 'node:crypto';
import Redis from 'ioredis';
import { createDpopProof, generateClientKeyPair } from '@fpa/crypto';
import { RegistrationMetrics } from '@fpa/registration';
import { StoreKeys } from '@fpa/store';
import { ChallengeClient, DEVICE_CLIENT, postForm, type FormPoster, type NonceSlot } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { expectOAuthError, type FormResponse } from '../support/http';
import { SMS_BODY, startSmsReceiver, type SmsReceiver } from '../support/sms';

const APP = { ...DEVICE_CLIENT, client_id: 'first-party-app', grant_types: ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code'] };
/** Small limits, so each is reached in a few requests (production defaults: README "Configuration"). */
const LIMIT = { registration: 3, ip: 4, session: 3, destination: 2, resendSeconds: 30 } as const;

/**
 * Issue 8 item 6: every rate limit, exercised. Each answers `429 slow_down` with `Retry-After` exactly at
 * its threshold — the request before it passes — and a refused request stores nothing: no device or
 * challenge session, no flow, no message, no user, no authentication. The client address is the one the
 * trusted loopback proxy puts in X-Forwarded-For, so each test has addresses of its own. (The IPv6 /64
 * keying of the IP limits: rate-limit-ip-prefix.e2e-spec.ts; the send budgets: send-budget.e2e-spec.ts.)
 */
describe('rate limits at their thresholds (standalone, PostgreSQL + Redis)', () => {
  let sms: SmsReceiver;
  let redis: Redis;
  let ipCounter = 0;
  /** A client address no other request of this file used. */
  const freshIp = (): string => `198.18.${Math.floor(++ipCounter / 250)}.${(ipCounter % 250) + 1}`;

  beforeAll(async () => {
    sms = await startSmsReceiver();
  });
  afterAll(async () => {
    redis?.disconnect();
    await sms?.close();
  });

  const start = async (label: string, overrides: Record<string, string>): Promise<RunningApp> => {
    const suite = await startStandalone(label, {
      TRUST_PROXY: 'loopback',
      SMS_PROVIDER_URL: `${sms.url}/messages`,
      SMS_PROVIDER_BODY: SMS_BODY,
      CHALLENGE_METHODS: 'sms_otp,totp,passkey',
      ...overrides,
    });
    await suite.createClient(APP);
    redis ??= new Redis(suite.env.redisUrl);
    return suite;
  };

  /** What a refused request must not have written. */
  const stored = async (suite: RunningApp): Promise<Record<string, number>> => {
    const count = async (sql: string): Promise<number> => Number((await suite.env.db.query<{ n: string }>(sql))[0].n);
    return {
      deviceSessions: await count(`SELECT count(*) AS n FROM device_sessions WHERE kind = 'device'`),
      challengeSessions: await count(`SELECT count(*) AS n FROM device_sessions WHERE kind = 'challenge'`),
      users: await count('SELECT count(*) AS n FROM users'),
      authentications: await count('SELECT count(*) AS n FROM user_authentications'),
      codes: await count('SELECT count(*) AS n FROM authorization_codes'),
      failures: await count('SELECT coalesce(sum(failures), 0) AS n FROM auth_attempts'),
      flows: (await redis.keys(`${suite.env.redisPrefix}challenge:*`)).length,
      messages: sms.requests.length,
    };
  };

  /** 429 slow_down (CONTRACT §2) with a Retry-After of whole seconds within the window. */
  const expectSlowDown = (res: FormResponse, windowSeconds: number): number => {
    expectOAuthError(res, 429, 'slow_down');
    const retryAfter = res.headers.get('retry-after');
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(windowSeconds);
    return Number(retryAfter);
  };

  describe(`REGISTRATION_RATE_LIMIT=${LIMIT.registration} per client IP, CHALLENGE_RATE_LIMIT_IP=${LIMIT.ip}, CHALLENGE_RATE_LIMIT_SESSION=${LIMIT.session}, CHALLENGE_RATE_LIMIT_DESTINATION=${LIMIT.destination}`, () => {
    let suite: RunningApp;
    const nonces: NonceSlot = { value: undefined };

    beforeAll(async () => {
      suite = await start('ratelimits', {
        REGISTRATION_RATE_LIMIT: String(LIMIT.registration),
        REGISTRATION_RATE_WINDOW_SECONDS: '60',
        CHALLENGE_RATE_LIMIT_IP: String(LIMIT.ip),
        CHALLENGE_RATE_LIMIT_SESSION: String(LIMIT.session),
        CHALLENGE_RATE_LIMIT_DESTINATION: String(LIMIT.destination),
        CHALLENGE_RESEND_SECONDS: '0',
      });
      // The AS nonce, fetched from an address of its own: every flow below starts with a valid one.
      const key = await generateClientKeyPair();
      const url = `${suite.issuer}/authorize-challenge`;
      const res = await postForm(url, { client_id: APP.client_id, response_type: 'code' }, { dpop: await createDpopProof(key, { htm: 'POST', htu: url }), 'x-forwarded-for': freshIp() });
      expectOAuthError(res, 400, 'use_dpop_nonce');
      nonces.value = res.headers.get('dpop-nonce') ?? undefined;
    });
    afterAll(async () => suite?.close());

    /** A public client whose requests come from `ip`. */
    const client = (ip: string): Promise<ChallengeClient> => {
      const post: FormPoster = (url, form, headers) => postForm(url, form, { ...headers, 'x-forwarded-for': ip });
      return ChallengeClient.create(suite.issuer, undefined, undefined, { post, nonces });
    };
    /** Starts a public-client flow; with a phone number, an SMS code is sent. */
    const begin = (c: ChallengeClient, phone?: string): Promise<FormResponse> =>
      c.send({ client_id: APP.client_id, response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256', ...(phone ? { login_hint: phone } : {}) });

    it(`registration: ${LIMIT.registration} per IP pass, the next is 429 (at /register and the fp_register grant) and stores nothing; another IP registers`, async () => {
      const ip = freshIp();
      const form = (): Record<string, string> => ({ client_id: APP.client_id, public_key: JSON.stringify(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' })) });
      const register = (path: string, extra: Record<string, string> = {}, from = ip): Promise<FormResponse> => postForm(`${suite.issuer}${path}`, { ...extra, ...form() }, { 'x-forwarded-for': from });
      for (let i = 0; i < LIMIT.registration; i++) expect((await register('/register')).status).toBe(200);
      const before = await stored(suite);

      expectSlowDown(await register('/register'), 60);
      // The fp_register grant at /token is the same handler and the same bucket.
      expectSlowDown(await register('/token', { grant_type: 'fp_register' }), 60);
      expect(await stored(suite)).toEqual(before);
      const outcomes = (await suite.get(RegistrationMetrics).registrations.get()).values;
      expect(outcomes.find((v) => v.labels.outcome === 'rate_limited:register')?.value).toBe(2);

      // Per client IP: another address still registers.
      expect((await register('/register', {}, freshIp())).status).toBe(200);
      expect((await stored(suite)).deviceSessions).toBe(before.deviceSessions + 1);
    });

    it(`challenge per IP: ${LIMIT.ip} requests pass, the next is 429 and starts nothing — no session, no flow, no SMS; another IP goes on`, async () => {
      const ip = freshIp();
      for (let i = 0; i < LIMIT.ip; i++) {
        const res = await begin(await client(ip), `+4477009004${String(i).padStart(2, '0')}`);
        expect({ status: res.status, status_: res.body.status }).toEqual({ status: 403, status_: 'code_sent' });
      }
      const before = await stored(suite);
      const refused = await begin(await client(ip), '+447700900499');
      expectSlowDown(refused, 60);
      expect(refused.body).not.toHaveProperty('auth_session');
      expect(await stored(suite)).toEqual(before);
      expect(sms.to('+447700900499')).toHaveLength(0);

      const elsewhere = await begin(await client(freshIp()), '+447700900499');
      expect(elsewhere.status).toBe(403);
      expect(sms.to('+447700900499')).toHaveLength(1);
    });

    it(`challenge per auth_session: ${LIMIT.session} requests pass, the next is 429 — even a right answer is not checked, nothing is recorded`, async () => {
      // Each request from an address of its own: only the session's count is at stake.
      const c = await client(freshIp());
      const phone = '+447700900510';
      expect((await begin(c, phone)).status).toBe(403);
      const resent = await c.send({ challenge_type: 'sms_otp', action: 'resend' });
      expect({ status: resent.status, status_: resent.body.status }).toEqual({ status: 403, status_: 'code_sent' });
      // The third: a wrong answer, counted and refused as such.
      const wrong = await c.send({ code: sms.code(phone) === '000000' ? '111111' : '000000' });
      expect({ status: wrong.status, status_: wrong.body.status }).toEqual({ status: 403, status_: 'invalid_code' });
      const before = await stored(suite);
      const flowKey = `${suite.env.redisPrefix}${StoreKeys.challengeFlow(c.authSession!)}`;
      const flow = await redis.get(flowKey);
      expect(flow).not.toBeNull();

      const refused = await c.send({ code: sms.code(phone) });
      expectSlowDown(refused, 60);
      expect(refused.body.auth_session).toBe(c.authSession);
      expect(await stored(suite)).toEqual(before);
      // The flow is as it was: the answer was neither checked nor counted.
      expect(await redis.get(flowKey)).toBe(flow);

      // Another session of the same client and address is not limited.
      const other = await client(freshIp());
      expect((await begin(other)).status).toBe(403);
    });

    it(`per destination: ${LIMIT.destination} codes to one number in the hour, the next is 429 and sends nothing, stores no flow; another number still gets its code`, async () => {
      const phone = '+447700900520';
      for (let i = 0; i < LIMIT.destination; i++) {
        const res = await begin(await client(freshIp()), phone);
        expect({ status: res.status, status_: res.body.status }).toEqual({ status: 403, status_: 'code_sent' });
      }
      expect(sms.to(phone)).toHaveLength(LIMIT.destination);
      // A session that exists already asks for a third code, spelt differently: the same destination.
      const c = await client(freshIp());
      expect((await begin(c)).status).toBe(403);
      const before = await stored(suite);
      const refused = await c.send({ challenge_type: 'sms_otp', phone: '+44 (7700) 900-520' });
      const retryAfter = expectSlowDown(refused, 3600);
      expect(retryAfter).toBeGreaterThan(60);
      expect(await stored(suite)).toEqual(before);
      expect(sms.to(phone)).toHaveLength(LIMIT.destination);
      // A new flow for that number: refused before its first write, so not even its session is stored.
      const fresh = await begin(await client(freshIp()), phone);
      expectSlowDown(fresh, 3600);
      expect(fresh.body).not.toHaveProperty('auth_session');
      expect(await stored(suite)).toEqual(before);

      const other = await c.send({ challenge_type: 'sms_otp', phone: '+447700900521' });
      expect({ status: other.status, status_: other.body.status }).toEqual({ status: 403, status_: 'code_sent' });
    });
  });

  describe(`CHALLENGE_RESEND_SECONDS=${LIMIT.resendSeconds}`, () => {
    let suite: RunningApp;

    beforeAll(async () => {
      suite = await start('ratelimitresend', { CHALLENGE_RESEND_SECONDS: String(LIMIT.resendSeconds) });
    });
    afterAll(async () => suite?.close());

    const begin = (c: ChallengeClient, phone?: string): Promise<FormResponse> =>
      c.send({ client_id: APP.client_id, response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256', ...(phone ? { login_hint: phone } : {}) });

    it('a second code to one number within the interval is 429 with Retry-After, from the same session or another, and sends nothing; the first code still works', async () => {
      const phone = '+447700900530';
      const c = await ChallengeClient.create(suite.issuer);
      const first = await begin(c, phone);
      expect({ status: first.status, status_: first.body.status }).toEqual({ status: 403, status_: 'code_sent' });
      const before = await stored(suite);

      const resend = await c.send({ challenge_type: 'sms_otp', action: 'resend' });
      expect(expectSlowDown(resend, LIMIT.resendSeconds)).toBe(LIMIT.resendSeconds);
      expect(await stored(suite)).toEqual(before);

      // A new flow for that number stores nothing, not even its session.
      const fresh = await begin(await ChallengeClient.create(suite.issuer), phone);
      expect(expectSlowDown(fresh, LIMIT.resendSeconds)).toBe(LIMIT.resendSeconds);
      expect(fresh.body).not.toHaveProperty('auth_session');
      expect(await stored(suite)).toEqual(before);

      const other = await ChallengeClient.create(suite.issuer);
      expect((await begin(other)).status).toBe(403);
      const afterOther = await stored(suite);
      expect(expectSlowDown(await other.send({ challenge_type: 'sms_otp', phone }), LIMIT.resendSeconds)).toBe(LIMIT.resendSeconds);
      expect(await stored(suite)).toEqual(afterOther);
      expect(sms.to(phone)).toHaveLength(1);

      // Another number is not throttled, and the throttled session still answers its first code.
      const elsewhere = await other.send({ challenge_type: 'sms_otp', phone: '+447700900531' });
      expect(elsewhere.status).toBe(403);
      const done = await c.send({ code: sms.code(phone) });
      expect(done.status).toBe(200);
      expect(done.body.authorization_code).toEqual(expect.any(String));
    });
  });
});
