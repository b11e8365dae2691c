import { generate, generateSecret } from 'otplib';
import { loadConfig } from '@fpa/config';
import { SecretBox, type AuthSessionView, type ChallengeStep } from '@fpa/challenge-kit';
import { describeChallengeMethodContract } from '@fpa/challenge-kit/testing';
import { FixedClock } from '@fpa/oauth-core';
import type { StoredCredential } from '@fpa/users';
import { TOTP_ENROLMENT_SECONDS, TOTP_PROMPT_SECONDS, TotpChallenge, type TotpCredentialSource, type TotpState } from './totp.challenge';

const config = loadConfig('standalone', { KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64url') });
const T0 = 1_800_000_000_000;
const STEP0 = Math.floor(T0 / 1000 / 30);
const USER = { id: '6f1c2a9e-0000-4000-8000-000000000001', email: 'alice@example.com', phone: null };

/** An in-memory stand-in for UsersService.credentials (the only capability the method reads). */
class FakeCredentials implements TotpCredentialSource {
  readonly rows: StoredCredential[] = [];
  async credentials(userId: string, method: string): Promise<StoredCredential[]> {
    return this.rows.filter((c) => c.userId === userId && c.method === method);
  }
  add(secret: string, overrides: Partial<StoredCredential> = {}): StoredCredential {
    const c: StoredCredential = { method: 'totp', credentialId: `cred-${this.rows.length + 1}`, userId: USER.id, publicData: { digits: 6, period: 30, algorithm: 'sha1' }, secret, counter: 0, provisional: false, enrolledFlow: null, trustedAfterMs: null, basisRank: 0, ...overrides };
    this.rows.push(c);
    return c;
  }
}

const session = (over: Partial<AuthSessionView> = {}): AuthSessionView => ({
  authSession: 'session-1',
  clientId: 'app',
  mode: 'public',
  user: USER,
  verifiedMethods: ['email_otp'],
  loginHint: undefined,
  ...over,
});

/** The code an authenticator shows `offset` steps from the clock's current step. */
const codeAt = (secret: string, clock: FixedClock, offset = 0): Promise<string> => generate({ secret, epoch: clock.nowSeconds() + offset * 30 });
type Prompt = Extract<ChallengeStep<TotpState>, { kind: 'prompt' }>;
type Verified = Extract<ChallengeStep<TotpState>, { kind: 'verified' }>;

describeChallengeMethodContract('totp (authentication)', async () => {
  const clock = new FixedClock(T0);
  const store = new FakeCredentials();
  const secret = generateSecret();
  store.add(secret);
  const method = new TotpChallenge(store, new SecretBox(config), clock);
  return {
    method,
    session: () => session(),
    beginParams: () => ({}),
    correctAnswer: async () => ({ code: await codeAt(secret, clock) }),
    // Not the code of any step the ±1 window accepts.
    wrongAnswer: async () => {
      const window = await Promise.all([-1, 0, 1].map((o) => codeAt(secret, clock, o)));
      const wrong = ['000000', '111111', '222222', '333333'].find((c) => !window.includes(c))!;
      return { code: wrong };
    },
    secrets: async () => [secret],
    advanceClock: (s) => clock.advance(s),
  };
});

describe('totp specifics', () => {
  let clock: FixedClock;
  let store: FakeCredentials;
  let box: SecretBox;
  let method: TotpChallenge;
  beforeEach(() => {
    clock = new FixedClock(T0);
    store = new FakeCredentials();
    box = new SecretBox(config);
    method = new TotpChallenge(store, box, clock);
  });

  const begin = async (s: AuthSessionView, params = {}): Promise<Prompt> => {
    const step = await method.begin(s, params);
    expect(step.kind).toBe('prompt');
    return step as Prompt;
  };

  it('declares id totp, amr otp and the action/code parameters', () => {
    expect({ id: method.id, amr: method.amr, parameters: method.parameters }).toEqual({ id: 'totp', amr: ['otp'], parameters: ['action', 'code'] });
  });

  it('applies (is offered to authenticate) only when the session user has an enrolled app', async () => {
    await expect(method.appliesTo(session({ user: undefined, verifiedMethods: [] }))).resolves.toBe(false);
    await expect(method.appliesTo(session())).resolves.toBe(false);
    store.add(generateSecret());
    await expect(method.appliesTo(session())).resolves.toBe(true);
  });

  describe('enrolment (action=enroll)', () => {
    it('is refused without a user (the core applies the enrolment rule before it asks the module)', async () => {
      const step = await method.begin(session({ user: undefined, verifiedMethods: [] }), { action: 'enroll' });
      expect(step).toMatchObject({ kind: 'rejected', reason: 'invalid_input', description: expect.stringMatching(/verified by another method/) });
    });

    it('declares its enrolment action, so the core gates it', () => {
      expect(method.assurance).toEqual({ enrolAction: 'enroll' });
    });

    it('refuses an unknown action', async () => {
      await expect(method.begin(session(), { action: 'delete' })).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_input' });
    });

    it('returns a fresh seed once (URI and base32) and keeps it only sealed in the state', async () => {
      const prompt = await begin(session(), { action: 'enroll' });
      const reply = prompt.reply as Record<string, unknown>;
      expect(reply).toMatchObject({ status: 'enrollment_started', digits: 6, period: 30, secret: expect.stringMatching(/^[A-Z2-7]{32}$/) });
      const secret = reply.secret as string;
      const uri = new URL(reply.otpauth_uri as string);
      expect(uri.protocol).toBe('otpauth:');
      expect(uri.host).toBe('totp');
      expect(decodeURIComponent(uri.pathname)).toBe('/first-party-auth:alice@example.com');
      expect(uri.searchParams.get('secret')).toBe(secret);
      expect(uri.searchParams.get('issuer')).toBe('first-party-auth');
      expect(prompt.expiresInSeconds).toBe(TOTP_ENROLMENT_SECONDS);
      expect(prompt.delivery).toBeUndefined();
      expect(JSON.stringify(prompt.state)).not.toContain(secret);
      expect(prompt.state).toMatchObject({ mode: 'enroll', userId: USER.id });
      await expect(box.open((prompt.state as { sealed: string }).sealed, 'session-1')).resolves.toBe(secret);
      // Another enrolment gets another seed.
      const again = await begin(session(), { action: 'enroll' });
      expect((again.reply as Record<string, unknown>).secret).not.toBe(secret);
    });

    it('labels the account with the phone, else the user id, when there is no email', async () => {
      const byPhone = await begin(session({ user: { id: USER.id, email: null, phone: '+15551234567' } }), { action: 'enroll' });
      expect(decodeURIComponent((byPhone.reply as Record<string, string>).otpauth_uri)).toContain('first-party-auth:+15551234567');
      const byId = await begin(session({ user: { id: USER.id, email: null, phone: null } }), { action: 'enroll' });
      expect(decodeURIComponent((byId.reply as Record<string, string>).otpauth_uri)).toContain(`first-party-auth:${USER.id}`);
    });

    it('a correct code yields the credential to add, with the accepted time step as counter', async () => {
      const prompt = await begin(session(), { action: 'enroll' });
      const secret = (prompt.reply as Record<string, string>).secret;
      const step = await method.answer(session(), prompt.state, { code: await codeAt(secret, clock, -1) });
      expect(step).toEqual({
        kind: 'verified',
        subject: { type: 'user', id: USER.id },
        amr: ['otp'],
        credential: {
          action: 'add',
          credential: { method: 'totp', credentialId: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), publicData: { digits: 6, period: 30, algorithm: 'sha1' }, secret, counter: STEP0 - 1 },
        },
      });
    });

    it('a wrong or late code is refused; a state sealed for another session cannot be completed', async () => {
      const prompt = await begin(session(), { action: 'enroll' });
      const secret = (prompt.reply as Record<string, string>).secret;
      await expect(method.answer(session(), prompt.state, { code: await codeAt(secret, clock, 2) })).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_code' });
      await expect(method.answer(session({ authSession: 'session-2' }), prompt.state, { code: await codeAt(secret, clock) })).resolves.toMatchObject({ kind: 'rejected', reason: 'expired' });
      clock.advance(TOTP_ENROLMENT_SECONDS);
      await expect(method.answer(session(), prompt.state, { code: await codeAt(secret, clock) })).resolves.toMatchObject({ kind: 'rejected', reason: 'expired' });
    });

  });

  describe('authentication', () => {
    it('asks for a code from the enrolled app, naming the user and credentials, never the secret', async () => {
      const secret = generateSecret();
      const cred = store.add(secret, { publicData: { digits: 8, period: 30, algorithm: 'sha1' } });
      const prompt = await begin(session());
      expect(prompt).toEqual({
        kind: 'prompt',
        state: { mode: 'authenticate', userId: USER.id, credentialIds: [cred.credentialId], expiresAt: T0 + TOTP_PROMPT_SECONDS * 1000 },
        reply: { status: 'code_required', digits: 8 },
        expiresInSeconds: 120,
        // Finding 2: wrong codes are counted per user across flows.
        guard: `totp:${USER.id}`,
      });
      expect(JSON.stringify(prompt)).not.toContain(secret);
    });

    it('needs an enrolled app (begin) and a user (appliesTo guards, begin double-checks)', async () => {
      await expect(method.begin(session(), {})).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_input', description: expect.stringMatching(/no TOTP authenticator is enrolled/) });
      await expect(method.begin(session({ user: undefined }), {})).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_input' });
    });

    it('accepts one step either side of now and reports the matched step as a forward counter', async () => {
      const secret = generateSecret();
      const cred = store.add(secret);
      const prompt = await begin(session());
      for (const offset of [-1, 0, 1]) {
        const step = (await method.answer(session(), prompt.state, { code: await codeAt(secret, clock, offset) })) as Verified;
        expect(step).toEqual({ kind: 'verified', subject: { type: 'user', id: USER.id }, amr: ['otp'], credential: { action: 'use', method: 'totp', credentialId: cred.credentialId, counter: STEP0 + offset } });
      }
      for (const offset of [-2, 2]) {
        await expect(method.answer(session(), prompt.state, { code: await codeAt(secret, clock, offset) })).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_code' });
      }
    });

    it('refuses a code of a step at or before the last accepted one (replay), accepts a later one', async () => {
      const secret = generateSecret();
      store.add(secret, { counter: STEP0 });
      const prompt = await begin(session());
      for (const offset of [-1, 0]) {
        await expect(method.answer(session(), prompt.state, { code: await codeAt(secret, clock, offset) })).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_code' });
      }
      await expect(method.answer(session(), prompt.state, { code: await codeAt(secret, clock, 1) })).resolves.toMatchObject({ kind: 'verified', credential: { counter: STEP0 + 1 } });
    });

    it('a counter beyond the window (clock moved back) accepts nothing and does not throw', async () => {
      const secret = generateSecret();
      store.add(secret, { counter: STEP0 + 5 });
      const prompt = await begin(session());
      await expect(method.answer(session(), prompt.state, { code: await codeAt(secret, clock) })).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_code' });
    });

    it('matches the right one of several enrolled apps; ignores apps enrolled after the prompt', async () => {
      const [a, b, late] = [generateSecret(), generateSecret(), generateSecret()];
      store.add(a);
      const credB = store.add(b);
      const prompt = await begin(session());
      store.add(late);
      await expect(method.answer(session(), prompt.state, { code: await codeAt(b, clock) })).resolves.toMatchObject({ kind: 'verified', credential: { credentialId: credB.credentialId } });
      await expect(method.answer(session(), prompt.state, { code: await codeAt(late, clock) })).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_code' });
    });

    it('accepts the code typed with spaces; too short or missing is malformed input (not an attempt)', async () => {
      const secret = generateSecret();
      store.add(secret);
      const prompt = await begin(session());
      const code = await codeAt(secret, clock);
      await expect(method.answer(session(), prompt.state, { code: `${code.slice(0, 3)} ${code.slice(3)}` })).resolves.toMatchObject({ kind: 'verified' });
      await expect(method.answer(session(), prompt.state, { code: code.slice(1) })).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_input' });
      await expect(method.answer(session(), prompt.state, { code: String((Number(code) + 1) % 1_000_000).padStart(6, '0') })).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_code' });
      await expect(method.answer(session(), prompt.state, {})).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_input' });
    });

    it('a state for another user is burned, not verified', async () => {
      const secret = generateSecret();
      store.add(secret);
      const prompt = await begin(session());
      const other = session({ user: { id: '6f1c2a9e-0000-4000-8000-000000000002', email: 'eve@example.com', phone: null } });
      await expect(method.answer(other, prompt.state, { code: await codeAt(secret, clock) })).resolves.toMatchObject({ kind: 'rejected', reason: 'expired' });
    });
  });
});
