import type { ChallengeMethod, InteractionStep } from '@fpa/challenge-kit';
import type { User } from '@fpa/users';
import { Core } from '../testing/core';
import { counted, NOW, otpMethod, passkeyMethod, totpMethod } from '../testing/fakes';
import type { Turn } from '../loop/turn';

type Verified = Extract<InteractionStep, { kind: 'verified' }>;
const ANN = 'ann@example.com';
const email = otpMethod('email_otp', 'email');
const totp = totpMethod();
const passkey = passkeyMethod();

const byEmail = (address = ANN): Verified => ({ kind: 'verified', subject: { type: 'email', value: address }, amr: ['otp', 'email'], verifiedValue: address });
const use = (method: string, userId: string, credentialId: string, extra: Partial<Verified> & { counter?: number } = {}): Verified => {
  const { counter, ...rest } = extra;
  return { kind: 'verified', subject: { type: 'user', id: userId }, amr: method === 'passkey' ? ['hwk', 'user'] : ['otp'], credential: { action: 'use', method, credentialId, ...(counter !== undefined ? { counter } : {}) }, ...rest };
};
const add = (method: string, userId: string, credentialId: string): Verified => ({ kind: 'verified', subject: { type: 'user', id: userId }, amr: [], credential: { action: 'add', credential: { method, credentialId, publicData: {} } } });

describe('AuthenticationRecorder: what a verified step leaves behind', () => {
  let core: Core;
  let ann: User;
  beforeEach(() => {
    core = new Core({ methods: [email, totp, passkey] });
    ann = core.users.addUser({ email: ANN });
  });
  afterEach(async () => core.close());

  const session = (turn: Turn): string => turn.caller.session.authSession;
  const record = (turn: Turn, method: ChallengeMethod, step: Verified, path?: 'authentication' | 'recovery') => core.recorder.record(turn, method, step, path);
  /** Ann's e-mail code earlier in this turn's flow. */
  const annSignedIn = (turn: Turn, ageSeconds = 10): void =>
    core.users.recorded(session(turn), ann.id, { method: 'email_otp', at: new Date(NOW - ageSeconds * 1000), flowId: turn.flow.flowId, verifies: 'email' });

  describe('one session, one user', () => {
    it('a second user authenticating into the session is access_denied and records nothing', async () => {
      const turn = await core.turn();
      annSignedIn(turn);
      await expect(record(turn, email, byEmail('mallory@example.com'))).rejects.toMatchObject({ code: 'access_denied' });
      expect(core.users.authentications).toHaveLength(1);
    });

    it('so is a user other than the one an earlier code attached to the session', async () => {
      const turn = await core.turn({ session: { user: { userId: ann.id, authTime: new Date(NOW), amr: [], acr: null, verified: [] } } });
      await expect(record(turn, email, byEmail('mallory@example.com'))).rejects.toMatchObject({ code: 'access_denied' });
      await expect(record(turn, email, byEmail())).resolves.toMatchObject({ kind: 'authenticated' });
    });
  });

  describe('the event: what the method and this step proved', () => {
    it('an e-mail code: one factor, verifies email, not credential-bound, counted; the turn sees it at once', async () => {
      const turn = await core.turn();
      const recorded = await record(turn, email, byEmail());
      const event = { method: 'email_otp', amr: ['otp', 'email'], atMs: NOW, factor: 'email_otp', factors: 1, phishingResistant: false, verifies: 'email', credentialBound: false, counted: true, userId: ann.id, flowId: turn.flow.flowId };
      expect(recorded).toEqual({ kind: 'authenticated', event });
      expect(turn.events).toEqual([event]);
      expect(turn.user).toEqual(ann);
      expect(core.users.authentications).toEqual([
        expect.objectContaining({ userId: ann.id, authSession: session(turn), method: 'email_otp', verifiedValue: ANN, at: new Date(NOW), verifies: 'email', credentialId: null, counted: true }),
      ]);
      expect(core.audit.events).toEqual([expect.objectContaining({ type: 'challenge.verified', subject: ann.id, details: { method: 'email_otp', amr: ['otp', 'email'], counted: true, factors: 1 } })]);
      expect(await counted(core.metrics.steps, { method: 'email_otp', outcome: 'verified' })).toBe(1);
    });

    it('a passkey that verified the user is two factors and phishing-resistant; without UV it is one', async () => {
      core.users.hold(ann.id, 'passkey', 'k');
      const turn = await core.turn();
      await expect(record(turn, passkey, use('passkey', ann.id, 'k', { userVerified: true }))).resolves.toMatchObject({ event: { factor: 'passkey', factors: 2, phishingResistant: true, credentialBound: true } });
      await expect(record(turn, passkey, use('passkey', ann.id, 'k', { userVerified: false }))).resolves.toMatchObject({ event: { factors: 1, phishingResistant: true } });
    });

    it('userVerified counts only for a method that declares multiFactorCapable', async () => {
      core.users.hold(ann.id, 'totp', 't');
      const turn = await core.turn();
      await expect(record(turn, totp, use('totp', ann.id, 't', { userVerified: true }))).resolves.toMatchObject({ event: { factor: 'totp', factors: 1, phishingResistant: false } });
    });

    it('the factor class is the declared one, the method id by default', async () => {
      const turn = await core.turn();
      const other: ChallengeMethod = { ...email, id: 'email_link', assurance: { factor: 'email_otp', verifies: 'email' } };
      await expect(record(turn, other, byEmail())).resolves.toMatchObject({ event: { method: 'email_link', factor: 'email_otp' } });
      await expect(record(turn, { ...email, id: 'plain', assurance: undefined }, byEmail())).resolves.toMatchObject({ event: { factor: 'plain' } });
    });
  });

  it('verifies is what the step proved (its subject), whatever the method declares', async () => {
    core.users.hold(ann.id, 'passkey', 'k');
    const turn = await core.turn();
    const declaresEmail: ChallengeMethod = { ...passkey, assurance: { ...passkey.assurance, verifies: 'email' } };
    const event = ((await record(turn, declaresEmail, use('passkey', ann.id, 'k'))) as { event: object }).event;
    expect(event).not.toHaveProperty('verifies');
    await expect(record(turn, { ...email, assurance: undefined }, byEmail())).resolves.toMatchObject({ event: { verifies: 'email' } });
  });

  describe('credential use', () => {
    it('counts nothing in the flow that enrolled the credential', async () => {
      const turn = await core.turn();
      core.users.hold(ann.id, 'passkey', 'k', { provisional: true, enrolledFlow: turn.flow.flowId, basisRank: 1 });
      await expect(record(turn, passkey, use('passkey', ann.id, 'k', { userVerified: true }))).resolves.toMatchObject({ event: { counted: false } });
      expect(core.users.authentications).toEqual([expect.objectContaining({ credentialId: 'k', counted: false })]);
      expect(core.users.creds.get('passkey:k')?.provisional).toBe(true);
    });

    it('promotes a provisional credential used in a later flow, and counts that use', async () => {
      const turn = await core.turn();
      core.users.hold(ann.id, 'passkey', 'k', { provisional: true, enrolledFlow: 'an-earlier-flow', basisRank: 1 });
      await expect(record(turn, passkey, use('passkey', ann.id, 'k'))).resolves.toMatchObject({ event: { counted: true } });
      expect(core.users.creds.get('passkey:k')?.provisional).toBe(false);
    });

    it('a recovered credential counts for nothing until its hold ends', async () => {
      const turn = await core.turn();
      core.users.hold(ann.id, 'passkey', 'k', { provisional: true, enrolledFlow: 'recovery-flow', trustedAfterMs: NOW + 1000 });
      await expect(record(turn, passkey, use('passkey', ann.id, 'k', { counter: 1 }))).resolves.toMatchObject({ event: { counted: false } });
      core.clock.advance(1);
      await expect(record(turn, passkey, use('passkey', ann.id, 'k', { counter: 2 }))).resolves.toMatchObject({ event: { counted: true } });
      expect(core.users.creds.get('passkey:k')?.provisional).toBe(false);
    });

    it('a replayed counter (the same TOTP step, the same sign count) is access_denied and records nothing', async () => {
      const turn = await core.turn();
      core.users.hold(ann.id, 'totp', 't', { counter: 41 });
      await expect(record(turn, totp, use('totp', ann.id, 't', { counter: 42 }))).resolves.toMatchObject({ kind: 'authenticated' });
      await expect(record(turn, totp, use('totp', ann.id, 't', { counter: 42 }))).rejects.toMatchObject({ code: 'access_denied' });
      await expect(record(turn, totp, use('totp', ann.id, 't', { counter: 40 }))).rejects.toMatchObject({ code: 'access_denied' });
      expect(core.users.authentications).toHaveLength(1);
    });

    it("an unknown credential, or another user's, is access_denied", async () => {
      const turn = await core.turn();
      const bob = core.users.addUser();
      core.users.hold(bob.id, 'passkey', 'bobs-key');
      await expect(record(turn, passkey, use('passkey', ann.id, 'nope'))).rejects.toMatchObject({ code: 'access_denied' });
      await expect(record(turn, passkey, use('passkey', ann.id, 'bobs-key'))).rejects.toMatchObject({ code: 'access_denied' });
      expect(core.users.authentications).toEqual([]);
    });
  });

  describe('enrolment (credential add)', () => {
    it('stores the credential with how it was enrolled, authenticates nothing', async () => {
      const turn = await core.turn();
      annSignedIn(turn);
      await expect(record(turn, passkey, add('passkey', ann.id, 'new-key'), 'authentication')).resolves.toEqual({ kind: 'enrolled', provisional: true });
      expect(core.users.creds.get('passkey:new-key')).toMatchObject({ userId: ann.id, provisional: true, enrolledFlow: turn.flow.flowId, basisRank: 1, trustedAfterMs: null, enrolledBy: 'authentication' });
      expect(core.users.authentications).toHaveLength(1);
      expect(core.audit.events).toEqual([expect.objectContaining({ type: 'credential.enrolled', subject: ann.id, details: { method: 'passkey', provisional: true, basisRank: 1 } })]);
      expect(await counted(core.metrics.enrolments, { method: 'passkey', path: 'authentication', provisional: 'true' })).toBe(1);
    });

    it('asks the enrolment rule again at completion: an authentication that went stale meanwhile is access_denied', async () => {
      const turn = await core.turn();
      annSignedIn(turn, core.config.challenge.enrolmentMaxAgeSeconds + 1);
      await expect(record(turn, totp, add('totp', ann.id, 't'), 'authentication')).rejects.toMatchObject({ code: 'access_denied' });
      expect(core.users.creds.size).toBe(0);
    });

    it('recovery: the replacement is provisional and on hold for the policy’s hold_seconds, audited as a recovery', async () => {
      const turn = await core.turn();
      annSignedIn(turn);
      core.users.hold(ann.id, 'passkey', 'lost-key');
      await expect(record(turn, passkey, add('passkey', ann.id, 'new-key'), 'recovery')).resolves.toEqual({ kind: 'enrolled', provisional: true });
      expect(core.users.creds.get('passkey:new-key')).toMatchObject({ provisional: true, trustedAfterMs: NOW + turn.policy.recovery.holdSeconds * 1000, enrolledBy: 'recovery' });
      expect(core.audit.events.map((e) => e.type)).toEqual(['credential.recovered']);
    });

    it('a credential id already registered is an invalid_request', async () => {
      const turn = await core.turn();
      annSignedIn(turn);
      core.users.hold(core.users.addUser().id, 'totp', 'taken');
      await expect(record(turn, totp, add('totp', ann.id, 'taken'))).rejects.toMatchObject({ code: 'invalid_request' });
    });
  });
});
