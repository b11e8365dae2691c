import Redis from 'ioredis';
import { generate } from 'otplib';
import { decodeJwtUnverified } from '@fpa/crypto';
import { StoreKeys } from '@fpa/store';
import { ChallengeClient, DEVICE_CLIENT } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { expectNoStore, type FormResponse } from '../support/http';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

const APP = { ...DEVICE_CLIENT, client_id: 'totp-app', grant_types: ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code'] };
const MFA = 'urn:first-party-auth:acr:mfa';
const PERIOD = 30;

/** RFC 6238 time step of a Unix time in seconds. */
const stepOf = (seconds: number): number => Math.floor(seconds / PERIOD);
const nowStep = (): number => stepOf(Date.now() / 1000);
/** The code an authenticator app shows during `step` (computed with otplib at a fixed epoch). */
const codeAt = (secret: string, step: number): Promise<string> => generate({ secret, epoch: step * PERIOD });

/**
 * The `totp` challenge module end to end (RFC 6238, CONTRACT §5): a user verified by email enrols
 * an authenticator app, then completes acr mfa with email + TOTP; replays, wrong codes and users
 * without a verified session or an enrolled app are refused. Real PostgreSQL, Redis and SMTP.
 */
describe('authorization challenge: TOTP (standalone, PostgreSQL + Redis + SMTP)', () => {
  let suite: RunningApp;
  let smtp: SmtpSink;
  let n = 0;

  beforeAll(async () => {
    smtp = await startSmtpSink();
    suite = await startStandalone('challengetotp', { SMTP_URL: smtp.url, CHALLENGE_RESEND_SECONDS: '0', CHALLENGE_RATE_LIMIT_SESSION: '1000', CHALLENGE_RATE_LIMIT_DESTINATION: '100' });
    await suite.createClient(APP);
  });
  afterAll(async () => {
    await suite?.close();
    await smtp?.close();
  });

  /** CONTRACT §2/§5: every refusal has its status and code, no-store, and never a code or the seed. */
  const refused = (res: FormResponse, status: number, error: string, secret?: string): void => {
    expect({ status: res.status, error: res.body.error }).toEqual({ status, error });
    expectNoStore(res);
    expect(res.body.authorization_code).toBeUndefined();
    if (secret) expect(res.text).not.toContain(secret);
  };

  /** A new public-client flow whose first factor is an email code; returns the answer to that code. */
  const afterEmail = async (email: string, extra: Record<string, string> = {}): Promise<{ c: ChallengeClient; res: FormResponse }> => {
    const c = await ChallengeClient.create(suite.issuer);
    const first = await c.send({ client_id: APP.client_id, response_type: 'code', scope: 'openid api.read', code_challenge: c.codeChallenge, code_challenge_method: 'S256', login_hint: email, ...extra });
    expect(first.body).toMatchObject({ error: 'insufficient_authorization', challenge_type: 'email_otp', status: 'code_sent' });
    return { c, res: await c.send({ code: await smtp.code(email) }) };
  };

  /** An mfa flow up to the TOTP prompt. */
  const atTotpPrompt = async (email: string): Promise<{ c: ChallengeClient; prompt: FormResponse }> => {
    const { c, res } = await afterEmail(email, { acr_values: MFA });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: 'insufficient_authorization', status: 'additional_method_required', completed: 'email_otp', methods: expect.arrayContaining(['totp']) });
    const prompt = await c.send({ challenge_type: 'totp' });
    expect(prompt.status).toBe(403);
    expectNoStore(prompt);
    expect(prompt.body).toMatchObject({ error: 'insufficient_authorization', auth_session: c.authSession, challenge_type: 'totp', status: 'code_required', digits: 6, expires_in: 120 });
    return { c, prompt };
  };

  /** Every value under the suite's Redis prefix, whatever its type. */
  const redisValues = async (): Promise<Map<string, string>> => {
    const redis = new Redis(suite.env.redisUrl);
    const out = new Map<string, string>();
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${suite.env.env.REDIS_KEY_PREFIX}*`, 'COUNT', 500);
        cursor = next;
        for (const key of keys) {
          const type = await redis.type(key);
          if (type === 'string') out.set(key, (await redis.get(key)) ?? '');
          else if (type === 'hash') out.set(key, JSON.stringify(await redis.hgetall(key)));
          else if (type === 'list') out.set(key, JSON.stringify(await redis.lrange(key, 0, -1)));
          else if (type === 'set') out.set(key, JSON.stringify(await redis.smembers(key)));
          else if (type === 'zset') out.set(key, JSON.stringify(await redis.zrange(key, 0, -1)));
        }
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
    return out;
  };

  // The story of one user, in order: enrolment, an mfa sign-in, a replay.
  const DAVE = 'dave@example.com';
  let secret = '';
  let userId = '';
  /** The step of the code used at enrolment (N-1) and the step of the current step when enrolling (N). */
  let enrolledStep = 0;

  it('enrolment: after email_otp, action=enroll returns a new seed once; a correct code stores it encrypted (never clear in Redis or PostgreSQL)', async () => {
    const { c, res: first } = await afterEmail(DAVE);
    expect(first.status).toBe(200);
    const users = await suite.env.db.query<{ id: string }>('SELECT id FROM users WHERE email = $1', [DAVE]);
    userId = users[0].id;

    // The later steps need this step and the next (N, N+1): start with at least 10 s left in it.
    const left = PERIOD - ((Date.now() / 1000) % PERIOD);
    if (left < 10) await new Promise((r) => setTimeout(r, left * 1000 + 200));

    // The flow is complete, so enrolment is a new request on the same auth_session (PKCE again).
    const enrol = await c.send({ challenge_type: 'totp', action: 'enroll', code_challenge: c.codeChallenge, code_challenge_method: 'S256' });
    expect(enrol.status).toBe(403);
    expectNoStore(enrol);
    expect(enrol.body).toMatchObject({
      error: 'insufficient_authorization',
      auth_session: c.authSession,
      challenge_type: 'totp',
      status: 'enrollment_started',
      digits: 6,
      period: 30,
      expires_in: 300,
      secret: expect.stringMatching(/^[A-Z2-7]{32}$/),
      otpauth_uri: expect.stringMatching(/^otpauth:\/\/totp\/first-party-auth:dave%40example\.com\?/),
    });
    secret = enrol.body.secret as string;
    expect(new URL(enrol.body.otpauth_uri as string).searchParams.get('secret')).toBe(secret);
    expect(new URL(enrol.body.otpauth_uri as string).searchParams.get('issuer')).toBe('first-party-auth');

    // Redis holds the enrolment (sealed) but never the seed in the clear.
    const values = await redisValues();
    const flow = values.get(`${suite.env.env.REDIS_KEY_PREFIX}${StoreKeys.challengeFlow(c.authSession!)}`);
    expect(flow).toContain('"mode":"enroll"');
    expect(values.size).toBeGreaterThan(1);
    for (const [key, value] of values) expect({ key, clear: value.includes(secret) }).toEqual({ key, clear: false });

    // A wrong code counts as an attempt and never echoes the seed.
    const step = nowStep();
    const window = await Promise.all([step - 1, step, step + 1].map((s) => codeAt(secret, s)));
    const wrong = ['000000', '111111', '222222', '333333'].find((x) => !window.includes(x))!;
    const bad = await c.send({ code: wrong });
    refused(bad, 403, 'insufficient_authorization', secret);
    expect(bad.body).toMatchObject({ challenge_type: 'totp', status: 'invalid_code', attempts_remaining: 4 });

    // The previous step's code is inside the ±1 step window.
    enrolledStep = step - 1;
    const done = await c.send({ code: await codeAt(secret, enrolledStep) });
    expect(done.status).toBe(200);
    expectNoStore(done);
    expect(done.body).toEqual({ authorization_code: expect.any(String), auth_session: c.authSession });
    expect(done.text).not.toContain(secret);

    const rows = await suite.env.db.query<{ user_id: string; credential_id: string; public_data: unknown; secret_jwe: string; counter: string }>(
      'SELECT user_id, credential_id, public_data, secret_jwe, counter FROM user_credentials WHERE method = $1',
      ['totp'],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ user_id: userId, public_data: { digits: 6, period: 30, algorithm: 'sha1' }, counter: String(enrolledStep) });
    // A compact JWE (five parts) that does not contain the seed.
    expect(rows[0].secret_jwe.split('.')).toHaveLength(5);
    expect(rows[0].secret_jwe).not.toContain(secret);
    for (const value of (await redisValues()).values()) expect(value).not.toContain(secret);
  });

  let usedStep = 0;

  it('acr mfa: a later flow — email code, then the TOTP code → authorization_code; the token says acr mfa, amr mfa+otp+email', async () => {
    expect(secret).not.toBe('');
    const { c, prompt } = await atTotpPrompt(DAVE);
    expect(prompt.text).not.toContain(secret);
    // The step after the enrolment code (the current one, N).
    usedStep = enrolledStep + 1;
    const done = await c.send({ code: await codeAt(secret, usedStep) });
    expect(done.status).toBe(200);
    expect(done.body).toEqual({ authorization_code: expect.any(String), auth_session: c.authSession });

    const tokens = await c.redeem(done.body.authorization_code as string, { client_id: APP.client_id });
    expect(tokens.status).toBe(200);
    const at = decodeJwtUnverified(tokens.body.access_token as string).payload;
    expect(at).toMatchObject({ sub: userId, auth_session: c.authSession, acr: MFA, amr: expect.arrayContaining(['mfa', 'otp', 'email']), cnf: { jkt: c.key.jkt } });

    const [row] = await suite.env.db.query<{ counter: string; last_used_at: Date | null }>('SELECT counter, last_used_at FROM user_credentials WHERE method = $1', ['totp']);
    expect(row.counter).toBe(String(usedStep));
    expect(row.last_used_at).not.toBeNull();
  });

  it('RFC 6238 §5.2: a code is accepted once — replayed in a new flow it is refused; of two flows racing with the next code, one wins', async () => {
    expect(usedStep).toBeGreaterThan(0);
    const { c } = await atTotpPrompt(DAVE);
    const { c: rival } = await atTotpPrompt(DAVE);
    const replay = await c.send({ code: await codeAt(secret, usedStep) });
    refused(replay, 403, 'insufficient_authorization', secret);
    expect(replay.body).toMatchObject({ challenge_type: 'totp', status: 'invalid_code', attempts_remaining: 4 });

    // The next step's code (inside the window): two flows send it at once; the core's forward-only
    // counter lets exactly one count (the other is refused by the module or by the counter).
    const next = await codeAt(secret, usedStep + 1);
    const results = await Promise.all([c.send({ code: next }), rival.send({ code: next })]);
    const wins = results.filter((r) => r.status === 200);
    expect(wins).toHaveLength(1);
    const loser = results.find((r) => r.status !== 200)!;
    expectNoStore(loser);
    expect(loser.body.authorization_code).toBeUndefined();
    expect(loser.text).not.toContain(secret);
    expect([
      { status: 400, error: 'access_denied' },
      { status: 403, error: 'insufficient_authorization' },
    ]).toContainEqual({ status: loser.status, error: loser.body.error });
    const [row] = await suite.env.db.query<{ counter: string }>('SELECT counter FROM user_credentials WHERE method = $1', ['totp']);
    expect(row.counter).toBe(String(usedStep + 1));
  });

  it('a wrong code is invalid_code with attempts_remaining; the seed never appears in the refusal', async () => {
    const { c } = await atTotpPrompt(DAVE);
    const step = nowStep();
    const window = await Promise.all([step - 1, step, step + 1].map((s) => codeAt(secret, s)));
    const wrong = ['000000', '111111', '222222', '333333'].find((x) => !window.includes(x))!;
    for (let i = 1; i <= 2; i++) {
      const res = await c.send({ code: wrong });
      refused(res, 403, 'insufficient_authorization', secret);
      expect(res.body).toMatchObject({ auth_session: c.authSession, challenge_type: 'totp', status: 'invalid_code', attempts_remaining: 5 - i });
    }
    // A code that is not digits at all is malformed input, like a missing one: refused, not counted.
    const letters = await c.send({ code: 'abcdef' });
    refused(letters, 400, 'invalid_request', secret);
    const third = await c.send({ code: wrong });
    expect(third.body).toMatchObject({ error: 'insufficient_authorization', status: 'invalid_code', attempts_remaining: 2 });
    const missing = await c.send({ challenge_type: 'totp', code: '' });
    refused(missing, 400, 'invalid_request', secret);
    expect(missing.body.error_description).toBe('code is required');
  });

  it('a second app cannot be added with the email factor alone (finding 1: a fresh factor at least as strong as the strongest held)', async () => {
    const { c, res } = await afterEmail(DAVE);
    expect(res.status).toBe(200);
    const enrol = await c.send({ challenge_type: 'totp', action: 'enroll', code_challenge: c.codeChallenge, code_challenge_method: 'S256' });
    refused(enrol, 403, 'insufficient_authorization');
    // Authenticate with the app first (TOTP, or a passkey): then the enrolment may go on.
    expect(enrol.body).toMatchObject({ status: 'reauthentication_required', challenge_type: 'totp', enrolment: 'authentication' });
    expect(enrol.body.methods).toContain('totp');
    expect(enrol.body.methods).not.toContain('email_otp');
    expect(enrol.body).not.toHaveProperty('secret');
    expect(await suite.env.db.query('SELECT 1 FROM user_credentials WHERE method = $1', ['totp'])).toHaveLength(1);
  });

  it('enrolling TOTP inside an MFA flow does not satisfy mfa: an enrolment is not an authentication', async () => {
    const gina = `gina${++n}@example.com`;
    const { c, res } = await afterEmail(gina, { acr_values: MFA });
    expect(res.body).toMatchObject({ status: 'additional_method_required' });
    const enrol = await c.send({ challenge_type: 'totp', action: 'enroll' });
    expect(enrol.body).toMatchObject({ status: 'enrollment_started' });
    const done = await c.send({ code: await generate({ secret: enrol.body.secret as string }) });
    // The app is stored, but the flow still wants a second factor it has not seen: no code yet.
    refused(done, 403, 'insufficient_authorization');
    expect(done.body).toMatchObject({ status: 'enrolled', completed: 'totp', provisional: true });
    // The new app counts only in a later request (finding 1), so it is not offered in this one.
    expect(done.body.methods).not.toContain('totp');
    const [{ count }] = await suite.env.db.query<{ count: string }>("SELECT count(*) FROM user_authentications WHERE auth_session = $1 AND method = 'totp'", [c.authSession]);
    expect(Number(count)).toBe(0);
  });

  it('enrolment without a verified user is not possible: 400 invalid_request, no seed', async () => {
    const c = await ChallengeClient.create(suite.issuer);
    const res = await c.send({ client_id: APP.client_id, response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256', login_hint: 'erin@example.com', challenge_type: 'totp', action: 'enroll' });
    refused(res, 400, 'invalid_request');
    expect(res.body.error_description).toMatch(/verified by another method/);
    expect(res.body.auth_session).toBe(c.authSession);
    expect(res.body).not.toHaveProperty('secret');
    expect(res.body).not.toHaveProperty('otpauth_uri');
    // Nothing was enrolled, no user was created.
    expect(await suite.env.db.query('SELECT 1 FROM users WHERE email = $1', ['erin@example.com'])).toHaveLength(0);
  });

  it('totp for a user without an enrolled app is not offered and not available (method_unavailable), before and after a first factor', async () => {
    // An enrolled user named only by login_hint: nobody is verified yet, so TOTP is not offered.
    const c = await ChallengeClient.create(suite.issuer);
    const early = await c.send({ client_id: APP.client_id, response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256', acr_values: MFA, login_hint: DAVE, challenge_type: 'totp' });
    refused(early, 403, 'insufficient_authorization', secret);
    expect(early.body).toMatchObject({ status: 'method_unavailable', challenge_type: 'totp' });
    expect(early.body.methods).not.toContain('totp');

    // A user verified by email who never enrolled: TOTP is not offered — enrolling is an explicit action.
    const frank = `frank${++n}@example.com`;
    const { c: c2, res } = await afterEmail(frank, { acr_values: MFA });
    expect(res.body).toMatchObject({ error: 'insufficient_authorization', status: 'additional_method_required' });
    expect(res.body.methods).not.toContain('totp');
    const auth = await c2.send({ challenge_type: 'totp' });
    refused(auth, 403, 'insufficient_authorization');
    expect(auth.body).toMatchObject({ status: 'method_unavailable', challenge_type: 'totp' });
  });
});
