import { randomUUID } from 'node:crypto';
import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { loadConfig, type AppConfig } from '@fpa/config';
import type { AuthSessionView, ChallengeParams, ChallengeStep, Json } from '@fpa/challenge-kit';
import { describeChallengeMethodContract } from '@fpa/challenge-kit/testing';
import { FixedClock } from '@fpa/oauth-core';
import type { NewCredential, StoredCredential } from '@fpa/users';
import { androidOrigin, SoftwareAuthenticator, type ResponseVariant } from '../../../../test/support/webauthn';
import { PasskeyChallenge, type PasskeyCredentials, type PasskeyState } from './passkey.challenge';

const RP_ID = 'auth.example.com';
const ORIGIN = 'https://auth.example.com';
const ANDROID = androidOrigin('the app signing certificate');

const configWith = (env: Record<string, string> = {}): AppConfig => loadConfig('standalone', { KEY_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64url'), ISSUER: ORIGIN, ...env });

type Prompt = Extract<ChallengeStep<PasskeyState>, { kind: 'prompt' }>;
type Verified = Extract<ChallengeStep<PasskeyState>, { kind: 'verified' }>;

/** The credential table, in memory: what UsersService.credential(s) and addCredential would see. */
class FakeCredentialStore implements PasskeyCredentials {
  readonly rows = new Map<string, StoredCredential>();
  async credential(method: string, credentialId: string): Promise<StoredCredential | undefined> {
    return this.rows.get(`${method}:${credentialId}`);
  }
  async credentials(userId: string, method: string): Promise<StoredCredential[]> {
    return [...this.rows.values()].filter((c) => c.userId === userId && c.method === method);
  }
  add(userId: string, c: NewCredential): void {
    // JSON round trip: public_data is jsonb.
    this.rows.set(`${c.method}:${c.credentialId}`, { method: c.method, credentialId: c.credentialId, userId, publicData: JSON.parse(JSON.stringify(c.publicData)) as Record<string, unknown>, secret: undefined, counter: c.counter ?? 0, provisional: false, enrolledFlow: null, trustedAfterMs: null, basisRank: 0 });
  }
  use(method: string, credentialId: string, counter: number | undefined): void {
    const row = this.rows.get(`${method}:${credentialId}`)!;
    if (counter !== undefined) this.rows.set(`${method}:${credentialId}`, { ...row, counter });
  }
}

interface Fixture {
  readonly method: PasskeyChallenge;
  readonly clock: FixedClock;
  readonly store: FakeCredentialStore;
  readonly user: NonNullable<AuthSessionView['user']>;
  session(user?: AuthSessionView['user']): AuthSessionView;
  /** Runs begin(register) + answer with this authenticator and stores the credential, as the core does. */
  enrol(authenticator: SoftwareAuthenticator, user?: AuthSessionView['user']): Promise<Verified>;
}

function fixture(config: AppConfig = configWith()): Fixture {
  const clock = new FixedClock(1_800_000_000_000);
  const store = new FakeCredentialStore();
  const method = new PasskeyChallenge(config, clock, store);
  const user = { id: randomUUID(), email: 'alice@example.com', phone: null };
  const session = (u?: AuthSessionView['user']): AuthSessionView => ({ authSession: 's', clientId: 'c', mode: 'public', user: u, verifiedMethods: u ? ['email_otp'] : [], loginHint: undefined });
  return {
    method,
    clock,
    store,
    user,
    session,
    async enrol(authenticator, u = user) {
      const prompt = (await method.begin(session(u), { action: 'register' })) as Prompt;
      expect(prompt.kind).toBe('prompt');
      const step = await method.answer(session(u), roundTrip(prompt.state), { credential: asJson(authenticator.register(creationOptions(prompt))) });
      expect(step.kind).toBe('verified');
      const verified = step as Verified;
      if (verified.credential?.action !== 'add') throw new Error('expected a credential to add');
      store.add(u.id, verified.credential.credential);
      return verified;
    },
  };
}

const roundTrip = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const asJson = (v: object): Json => roundTrip(v) as unknown as Json;
const creationOptions = (p: Prompt): PublicKeyCredentialCreationOptionsJSON => p.reply.public_key_credential_creation_options as unknown as PublicKeyCredentialCreationOptionsJSON;
const requestOptions = (p: Prompt): PublicKeyCredentialRequestOptionsJSON => p.reply.public_key_credential_request_options as unknown as PublicKeyCredentialRequestOptionsJSON;
const authenticator = (extra: Partial<ConstructorParameters<typeof SoftwareAuthenticator>[0]> = {}): SoftwareAuthenticator => new SoftwareAuthenticator({ rpId: RP_ID, origin: ORIGIN, ...extra });

/** Begins an authentication in `session` and answers it with `auth` (optionally a wrong variant). */
async function authenticate(f: Fixture, auth: SoftwareAuthenticator, session: AuthSessionView, variant?: ResponseVariant, asString = false): Promise<ChallengeStep<PasskeyState>> {
  const prompt = (await f.method.begin(session, {})) as Prompt;
  expect(prompt.kind).toBe('prompt');
  const response = auth.assert(requestOptions(prompt), variant);
  const credential: Json = asString ? JSON.stringify(response) : asJson(response);
  return f.method.answer(session, roundTrip(prompt.state), { credential } as ChallengeParams);
}

// Authentication with a discoverable credential: the assertion alone names the user.
describeChallengeMethodContract('passkey', async () => {
  const f = fixture();
  const auth = authenticator();
  await f.enrol(auth);
  return {
    method: f.method,
    session: () => f.session(undefined),
    beginParams: () => ({}),
    correctAnswer: async (p) => ({ credential: asJson(auth.assert(requestOptions(p as Prompt))) }),
    wrongAnswer: async (p) => ({ credential: asJson(auth.assert(requestOptions(p as Prompt), { challenge: Buffer.from('another challenge').toString('base64url') })) }),
    advanceClock: (s) => f.clock.advance(s),
  };
});

describe('passkey registration', () => {
  it('needs a user the session already verified', async () => {
    const f = fixture();
    await expect(f.method.begin(f.session(undefined), { action: 'register' })).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_input' });
    await expect(f.method.begin(f.session(f.user), { action: 'delete' })).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_input' });
  });

  it('offers creation options for the configured RP, the user handle = the user id bytes, excluding enrolled passkeys', async () => {
    const f = fixture(configWith({ WEBAUTHN_RP_NAME: 'Example Bank' }));
    const first = authenticator();
    await f.enrol(first);
    const prompt = (await f.method.begin(f.session(f.user), { action: 'register' })) as Prompt;
    expect(prompt).toMatchObject({ kind: 'prompt', expiresInSeconds: 300, state: { mode: 'register', userId: f.user.id } });
    expect(prompt.reply.status).toBe('registration_required');
    const options = creationOptions(prompt);
    expect(options).toMatchObject({
      rp: { id: RP_ID, name: 'Example Bank' },
      user: { id: Buffer.from(f.user.id, 'utf8').toString('base64url'), name: 'alice@example.com' },
      attestation: 'none',
      authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
      timeout: 300_000,
    });
    expect(options.excludeCredentials?.map((c) => c.id)).toEqual([first.id]);
    expect(options.pubKeyCredParams.map((p) => p.alg)).toContain(-7);
    expect((prompt.state as { challenge: string }).challenge).toBe(options.challenge);
  });

  it('verifies the attestation and hands the core a credential to add, saying whether the user was verified', async () => {
    const f = fixture();
    const auth = authenticator({ transports: ['internal'], backedUp: false });
    const verified = await f.enrol(auth);
    expect(verified).toMatchObject({
      kind: 'verified',
      subject: { type: 'user', id: f.user.id },
      amr: ['hwk', 'user', 'mfa'],
      userVerified: true,
      credential: {
        action: 'add',
        credential: { method: 'passkey', credentialId: auth.id, counter: 0, publicData: { publicKey: auth.cosePublicKey().toString('base64url'), transports: ['internal'], aaguid: '00000000-0000-0000-0000-000000000000', backupEligible: false } },
      },
    });
    const noUv = fixture();
    const presenceOnly = await noUv.enrol(authenticator({ userVerified: false, backedUp: false }));
    expect(presenceOnly).toMatchObject({ amr: ['hwk', 'user'], userVerified: false });
  });

  it('a synced (backup-eligible) passkey is a software-secured key: swk, not hwk (RFC 8176)', async () => {
    const f = fixture();
    const auth = authenticator({ backedUp: true });
    const verified = await f.enrol(auth);
    expect(verified).toMatchObject({ amr: ['swk', 'user', 'mfa'], credential: { credential: { publicData: { backupEligible: true } } } });
    await expect(authenticate(f, auth, f.session(undefined))).resolves.toMatchObject({ kind: 'verified', amr: ['swk', 'user', 'mfa'] });
  });

  it('declares what it proves: phishing-resistant, multi-factor capable, enrolled with action=register', () => {
    expect(fixture().method.assurance).toEqual({ phishingResistant: true, multiFactorCapable: true, enrolAction: 'register' });
  });

  it('refuses a registration for another challenge, origin or RP ID (counted), and a passkey already registered (not counted)', async () => {
    const f = fixture();
    const auth = authenticator();
    for (const variant of [{ challenge: 'AAAAAAAAAAAAAAAAAAAAAA' }, { origin: 'https://evil.example' }, { rpId: 'evil.example' }, { type: 'webauthn.get' }] satisfies ResponseVariant[]) {
      const prompt = (await f.method.begin(f.session(f.user), { action: 'register' })) as Prompt;
      const step = await f.method.answer(f.session(f.user), roundTrip(prompt.state), { credential: asJson(auth.register(creationOptions(prompt), variant)) });
      expect(step).toMatchObject({ kind: 'rejected', reason: 'invalid_code' });
    }
    await f.enrol(auth);
    const again = (await f.method.begin(f.session(f.user), { action: 'register' })) as Prompt;
    const step = await f.method.answer(f.session(f.user), roundTrip(again.state), { credential: asJson(auth.register(creationOptions(again))) });
    expect(step).toMatchObject({ kind: 'rejected', reason: 'invalid_input' });
  });

  it('accepts the response as a JSON string (form bodies) and refuses an assertion in its place', async () => {
    const f = fixture();
    const auth = authenticator();
    const prompt = (await f.method.begin(f.session(f.user), { action: 'register' })) as Prompt;
    const assertion = await f.method.answer(f.session(f.user), roundTrip(prompt.state), { credential: asJson(auth.assert({ challenge: creationOptions(prompt).challenge, rpId: RP_ID })) });
    expect(assertion).toMatchObject({ kind: 'rejected', reason: 'invalid_input' });
    const step = await f.method.answer(f.session(f.user), roundTrip(prompt.state), { credential: JSON.stringify(auth.register(creationOptions(prompt))) });
    expect(step.kind).toBe('verified');
  });
});

describe('passkey authentication', () => {
  it('offers the known user their passkeys, and an empty list (discoverable) when no user is known', async () => {
    const f = fixture();
    const auth = authenticator({ transports: ['internal', 'hybrid'] });
    await f.enrol(auth);
    const known = (await f.method.begin(f.session(f.user), {})) as Prompt;
    expect(known).toMatchObject({ kind: 'prompt', expiresInSeconds: 300, reply: { status: 'assertion_required' }, state: { mode: 'authenticate', userId: f.user.id }, guard: `passkey:${f.user.id}` });
    expect(requestOptions(known)).toMatchObject({ rpId: RP_ID, userVerification: 'preferred', allowCredentials: [{ id: auth.id, type: 'public-key', transports: ['internal', 'hybrid'] }] });
    const anonymous = (await f.method.begin(f.session(undefined), {})) as Prompt;
    expect(requestOptions(anonymous).allowCredentials ?? []).toEqual([]);
    expect(anonymous.state).toMatchObject({ mode: 'authenticate', userId: null });
    // Nobody to lock out in a discoverable ceremony (and an assertion cannot be guessed).
    expect(anonymous.guard).toBeUndefined();
  });

  it('an assertion alone names the user; the sign count is handed to the core to move forward', async () => {
    const f = fixture();
    const auth = authenticator({ backedUp: false });
    await f.enrol(auth);
    const step = await authenticate(f, auth, f.session(undefined));
    expect(step).toEqual({ kind: 'verified', subject: { type: 'user', id: f.user.id }, amr: ['hwk', 'user', 'mfa'], userVerified: true, credential: { action: 'use', method: 'passkey', credentialId: auth.id, counter: 1 } });
    f.store.use('passkey', auth.id, 1);
    const second = await authenticate(f, auth, f.session(f.user), {}, true);
    expect(second).toMatchObject({ kind: 'verified', credential: { counter: 2 } });
  });

  it('omits the counter when the authenticator always reports 0 (synced passkeys), and drops mfa without UV', async () => {
    const f = fixture();
    const auth = authenticator({ counter: 'zero', userVerified: false });
    await f.enrol(auth);
    const step = await authenticate(f, auth, f.session(undefined));
    expect(step).toEqual({ kind: 'verified', subject: { type: 'user', id: f.user.id }, amr: ['swk', 'user'], userVerified: false, credential: { action: 'use', method: 'passkey', credentialId: auth.id } });
  });

  it.each<[string, ResponseVariant]>([
    ['another challenge', { challenge: Buffer.from('stale').toString('base64url') }],
    ['another origin', { origin: 'https://phish.example' }],
    ['a bad signature', { badSignature: true }],
    ['another RP ID', { rpId: 'phish.example' }],
    ['a registration type', { type: 'webauthn.create' }],
    ['a sign count that did not move forward', { signCount: 0 }],
    ['no user presence', { userPresent: false }],
    ['a user handle of another account', { userHandle: Buffer.from(randomUUID()).toString('base64url') }],
    ['no user handle for a discoverable assertion', { userHandle: null }],
  ])('rejects %s as invalid_code, never throwing', async (_name, variant) => {
    const f = fixture();
    const auth = authenticator();
    await f.enrol(auth);
    f.store.use('passkey', auth.id, 5);
    auth.signCount = 5;
    await expect(authenticate(f, auth, f.session(undefined), variant)).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_code' });
  });

  it('control for the refusals above: the same setup without a variant verifies', async () => {
    const f = fixture();
    const auth = authenticator();
    await f.enrol(auth);
    f.store.use('passkey', auth.id, 5);
    auth.signCount = 5;
    await expect(authenticate(f, auth, f.session(undefined))).resolves.toMatchObject({ kind: 'verified', credential: { counter: 6 } });
  });

  it('rejects an unknown passkey, and a passkey of another account when the session has a user', async () => {
    const f = fixture();
    const mine = authenticator();
    const theirs = authenticator();
    await f.enrol(mine);
    const stranger = authenticator();
    stranger.userHandle = Buffer.from(f.user.id).toString('base64url');
    await expect(authenticate(f, stranger, f.session(undefined))).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_code' });
    const bob = { id: randomUUID(), email: 'bob@example.com', phone: null };
    await f.enrol(theirs, bob);
    // The options list only Alice's passkey; a client that signs with Bob's anyway is refused.
    const prompt = (await f.method.begin(f.session(f.user), {})) as Prompt;
    const response = theirs.assert({ ...requestOptions(prompt), allowCredentials: [] });
    await expect(f.method.answer(f.session(f.user), roundTrip(prompt.state), { credential: asJson(response) })).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_code' });
  });

  it('accepts an Android app origin only when WEBAUTHN_ORIGINS lists it', async () => {
    const listed = fixture(configWith({ WEBAUTHN_ORIGINS: `${ORIGIN},${ANDROID}` }));
    const app = authenticator({ origin: ANDROID });
    await listed.enrol(app);
    await expect(authenticate(listed, app, listed.session(undefined))).resolves.toMatchObject({ kind: 'verified' });
    const unlisted = fixture();
    const other = authenticator();
    await unlisted.enrol(other);
    await expect(authenticate(unlisted, other, unlisted.session(undefined), { origin: ANDROID })).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_code' });
  });

  it('rejects malformed credentials as invalid_input (not counted)', async () => {
    const f = fixture();
    const auth = authenticator();
    await f.enrol(auth);
    const prompt = (await f.method.begin(f.session(undefined), {})) as Prompt;
    const good = asJson(auth.assert(requestOptions(prompt))) as Record<string, Json>;
    for (const credential of [
      'x'.repeat(40_000),
      [good],
      { ...good, rawId: 'something-else-entirely' },
      { ...good, type: 'password' },
      { ...good, response: { ...(good.response as Record<string, Json>), signature: 'not base64url!' } },
      { ...good, response: null },
    ] as Json[]) {
      await expect(f.method.answer(f.session(undefined), roundTrip(prompt.state), { credential })).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_input' });
    }
  });
});
