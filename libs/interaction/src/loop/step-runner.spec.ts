import { ACR } from '@fpa/assurance';
import type { ChallengeMethod } from '@fpa/challenge-kit';
import type { User } from '@fpa/users';
import { Core } from '../testing/core';
import { CODE, counted, NOW, otpMethod, passkeyMethod, totpMethod, walletMethod } from '../testing/fakes';
import type { Turn } from './turn';

const ANN = 'ann@example.com';
const GUARD = `email:${ANN}`;

describe('StepRunner: one plug-in call for the loop', () => {
  let email: ChallengeMethod;
  let totp: ChallengeMethod;
  let passkey: ChallengeMethod;
  let wallet: ChallengeMethod;
  let core: Core;
  beforeEach(() => {
    [email, totp, passkey, wallet] = [otpMethod('email_otp', 'email'), totpMethod(), passkeyMethod(), walletMethod()];
    core = new Core({ methods: [email, totp, passkey, wallet] });
  });
  afterEach(async () => core.close());

  const session = (turn: Turn): string => turn.caller.session.authSession;
  /** Ann has authenticated in this session `ageSeconds` ago by e-mail code (in this turn's flow). */
  const annByEmail = (turn: Turn, ageSeconds = 10): User => {
    const ann = core.users.addUser({ email: ANN });
    core.users.recorded(session(turn), ann.id, { method: 'email_otp', at: new Date(NOW - ageSeconds * 1000), flowId: turn.flow.flowId, verifies: 'email' });
    return ann;
  };

  describe('answer', () => {
    it('an expired challenge is cleared and answered expired, without charging or asking the method', async () => {
      const turn = await core.turn({ active: core.active('email_otp', { expiresAt: NOW }) });
      const answer = jest.spyOn(email, 'answer');
      const outcome = await core.runner.answer(turn, turn.flow.active!, { code: CODE });
      expect(outcome).toMatchObject({ kind: 'need_more', status: 'expired', challenge: { challenge_type: 'email_otp' } });
      expect(answer).not.toHaveBeenCalled();
      expect(core.attempts.charges).toEqual([]);
      expect((await core.stored(session(turn)))?.active).toBeUndefined();
      expect(await counted(core.metrics.steps, { method: 'email_otp', outcome: 'expired' })).toBe(1);
    });

    it('a locked guard answers locked with retryAfterSeconds, and the method never checks the answer', async () => {
      const turn = await core.turn({ active: core.active('email_otp') });
      core.attempts.locked.set(GUARD, 120);
      const answer = jest.spyOn(email, 'answer');
      const outcome = await core.runner.answer(turn, turn.flow.active!, { code: CODE });
      expect(outcome).toEqual({ kind: 'need_more', authSession: session(turn), status: 'locked', challenge: { challenge_type: 'email_otp', retry_after: 120 }, methods: expect.any(Array), retryAfterSeconds: 120 });
      expect(answer).not.toHaveBeenCalled();
      expect(core.users.authentications).toEqual([]);
      expect((await core.stored(session(turn)))?.active).toEqual(turn.flow.active);
      expect(await counted(core.metrics.lockouts, { method: 'email_otp' })).toBe(1);
    });

    it('charges the guard before the answer is checked; a verified answer clears it', async () => {
      const turn = await core.turn({ active: core.active('email_otp') });
      const answer = jest.spyOn(email, 'answer').mockImplementation(async (...args) => {
        expect(core.attempts.charges).toEqual([GUARD]);
        return otpMethod().answer(...args);
      });
      await expect(core.runner.answer(turn, turn.flow.active!, { code: CODE })).resolves.toMatchObject({ kind: 'code' });
      expect(answer).toHaveBeenCalledTimes(1);
      expect(core.attempts.successes).toEqual([GUARD]);
      expect(core.attempts.refunds).toEqual([]);
    });

    it('a wrong answer stays charged; a malformed one (invalid_input) is refunded', async () => {
      const turn = await core.turn({ active: core.active('email_otp') });
      await expect(core.runner.answer(turn, turn.flow.active!, { code: '000000' })).resolves.toMatchObject({ status: 'invalid_code' });
      expect({ charges: core.attempts.charges, refunds: core.attempts.refunds, successes: core.attempts.successes }).toEqual({ charges: [GUARD], refunds: [], successes: [] });

      await expect(core.runner.answer(turn, turn.flow.active!, { code: 'not-a-code' })).rejects.toMatchObject({ code: 'invalid_request' });
      expect({ charges: core.attempts.charges, refunds: core.attempts.refunds }).toEqual({ charges: [GUARD, GUARD], refunds: [GUARD] });
    });

    it('a challenge without a guard charges nothing', async () => {
      const turn = await core.turn({ active: core.active('email_otp', { guard: undefined }) });
      await core.runner.answer(turn, turn.flow.active!, { code: '000000' });
      expect(core.attempts.charges).toEqual([]);
    });
  });

  describe('begin', () => {
    it('refuses a method the client policy does not offer', async () => {
      core = new Core({ methods: [email, totp], client: { challengePolicy: { methods: ['email_otp'] } } });
      const turn = await core.turn();
      await expect(core.runner.begin(turn, 'totp', {})).rejects.toMatchObject({ code: 'invalid_request' });
      await expect(core.runner.begin(turn, 'nope', {})).rejects.toMatchObject({ code: 'invalid_request' });
    });

    it('a method that does not apply to the session is method_unavailable, the others still offered', async () => {
      const turn = await core.turn();
      const begin = jest.spyOn(totp, 'begin');
      await expect(core.runner.begin(turn, 'totp', {})).resolves.toMatchObject({ kind: 'need_more', status: 'method_unavailable', challenge: { challenge_type: 'totp' }, methods: ['email_otp', 'wallet'] });
      expect(begin).not.toHaveBeenCalled();
    });

    it('the enrol action goes through the enrolment rule first: refused, it is reauthentication_required with the strong-enough methods', async () => {
      const turn = await core.turn();
      const ann = annByEmail(turn);
      core.users.hold(ann.id, 'passkey', 'ann-key');
      const begin = jest.spyOn(totp, 'begin');
      const outcome = await core.runner.begin(turn, 'totp', { challenge_type: 'totp', action: 'enroll' });
      expect(outcome).toEqual({ kind: 'need_more', authSession: session(turn), status: 'reauthentication_required', challenge: { challenge_type: 'totp', enrolment: 'authentication' }, methods: ['passkey'] });
      expect(begin).not.toHaveBeenCalled();
    });

    it('the enrol action, allowed, begins the enrolment and remembers its path in the flow', async () => {
      const turn = await core.turn();
      annByEmail(turn);
      const begin = jest.spyOn(totp, 'begin');
      await expect(core.runner.begin(turn, 'totp', { action: 'enroll' })).resolves.toMatchObject({ kind: 'need_more', status: 'registration_required' });
      expect(begin).toHaveBeenCalledWith(expect.anything(), { action: 'enroll' });
      expect((await core.stored(session(turn)))?.active).toMatchObject({ method: 'totp', enrolment: 'authentication' });
    });

    it('an enrolment needs a user this session verified', async () => {
      const turn = await core.turn();
      await expect(core.runner.begin(turn, 'passkey', { action: 'register' })).rejects.toMatchObject({ code: 'invalid_request' });
    });

    it("action=recover is the recovery path: the recovery policy decides, and the method sees its own enrol action", async () => {
      const turn = await core.turn();
      const ann = annByEmail(turn);
      core.users.hold(ann.id, 'passkey', 'lost-key');
      const begin = jest.spyOn(passkey, 'begin');
      await expect(core.runner.begin(turn, 'passkey', { action: 'recover' })).resolves.toMatchObject({ kind: 'need_more', status: 'registration_required' });
      expect(begin).toHaveBeenCalledWith(expect.anything(), { action: 'register' });
      expect((await core.stored(session(turn)))?.active).toMatchObject({ method: 'passkey', enrolment: 'recovery' });
    });

    it('recovery refused (the e-mail is not fresh) is reauthentication_required with the methods that verify identifiers', async () => {
      const turn = await core.turn();
      const ann = annByEmail(turn, core.config.challenge.enrolmentMaxAgeSeconds + 1);
      core.users.hold(ann.id, 'passkey', 'lost-key');
      await expect(core.runner.begin(turn, 'passkey', { action: 'recover' })).resolves.toMatchObject({
        status: 'reauthentication_required',
        challenge: { challenge_type: 'passkey', enrolment: 'recovery' },
        methods: ['email_otp', 'wallet'],
      });
    });

    it('action=recover on a method that enrols nothing is an invalid_request', async () => {
      const turn = await core.turn();
      annByEmail(turn);
      await expect(core.runner.begin(turn, 'email_otp', { action: 'recover' })).rejects.toMatchObject({ code: 'invalid_request' });
    });
  });

  describe('resume and poll (a way back in from outside)', () => {
    const pendingWallet = (expiresAt = NOW + 120_000) => ({ method: 'wallet', state: { nonce: 'n-1' }, attempts: 0, expiresAt, pending: { reply: { request_uri: 'r' }, intervalSeconds: 5 } });

    it('resume on a method without resume is refused', async () => {
      const turn = await core.turn({ active: core.active('email_otp') });
      await expect(core.runner.resume(turn, turn.flow.active!, { email: ANN }, false)).rejects.toMatchObject({ code: 'invalid_request' });
      expect(core.users.authentications).toEqual([]);
    });

    it('resume after the challenge expired clears it and is refused', async () => {
      const turn = await core.turn({ active: pendingWallet(NOW - 1) });
      const resume = jest.spyOn(wallet, 'resume');
      await expect(core.runner.resume(turn, turn.flow.active!, { email: ANN }, false)).rejects.toMatchObject({ code: 'invalid_request' });
      expect(resume).not.toHaveBeenCalled();
      expect((await core.stored(session(turn)))?.active).toBeUndefined();
    });

    it('resume hands the payload to the method and applies its step; a caller who is the client gets the outcome', async () => {
      const turn = await core.turn({ active: pendingWallet() });
      await expect(core.runner.resume(turn, turn.flow.active!, { email: ANN }, false)).resolves.toMatchObject({ kind: 'code' });
      expect(core.users.authentications).toEqual([expect.objectContaining({ method: 'wallet', verifies: 'email', flowId: turn.flow.flowId })]);
    });

    it('poll answers pending with the time left, then expired once it ran out', async () => {
      const turn = await core.turn({ active: pendingWallet() });
      core.clock.advance(30);
      await expect(core.runner.poll(turn, turn.flow.active!)).resolves.toEqual({ kind: 'pending', authSession: session(turn), challengeType: 'wallet', reply: { request_uri: 'r' }, expiresIn: 90, intervalSeconds: 5 });
      core.clock.advance(90);
      await expect(core.runner.poll(turn, turn.flow.active!)).resolves.toMatchObject({ kind: 'need_more', status: 'expired', challenge: { challenge_type: 'wallet' } });
      expect((await core.stored(session(turn)))?.active).toBeUndefined();
    });
  });

  it('decideNow issues a code when the request is already satisfied, else says what is open', async () => {
    const fresh = await core.turn({ request: { acrValues: ACR.email } });
    await expect(core.runner.decideNow(fresh)).resolves.toMatchObject({ kind: 'need_more', status: 'method_required', methods: ['email_otp', 'wallet'] });
    const done = await core.turn({ request: { acrValues: ACR.email } });
    annByEmail(done);
    await expect(core.runner.decideNow(done)).resolves.toMatchObject({ kind: 'code' });
  });
});
