import { ACR } from '@fpa/assurance';
import type { InteractionStep } from '@fpa/challenge-kit';
import type { NewAuthenticationRecord } from '@fpa/users';
import { OAuthError } from '@fpa/oauth-core';
import { FlowConflict, type FlowState } from '../flow/flow-state';
import { Core } from '../testing/core';
import { counted, NOW, otpMethod, passkeyMethod, walletMethod } from '../testing/fakes';
import type { Turn } from './turn';

const ANN = 'ann@example.com';
const email = otpMethod('email_otp', 'email');
const passkey = passkeyMethod();
const wallet = walletMethod();

describe('StepApplier: an InteractionStep becomes a flow write and an outcome', () => {
  let core: Core;
  beforeEach(() => (core = new Core({ methods: [email, passkey, wallet], env: { CHALLENGE_MAX_ATTEMPTS: '3' } })));
  afterEach(async () => core.close());

  const session = (turn: Turn): string => turn.caller.session.authSession;
  const begin = async (turn: Turn): Promise<InteractionStep> => email.begin(await core.facts.view(turn), { email: ANN });
  /** Another request for the same session writes the flow after this turn read it. */
  const raceAhead = async (turn: Turn): Promise<void> => void (await core.flows.save({ ...turn.flow, flowId: 'other-request' } as FlowState, turn.version));

  describe('prompt (with a delivery)', () => {
    it('reserves, saves the challenge, then sends — and answers code_sent with the methods still open', async () => {
      const turn = await core.turn();
      let atSend: FlowState | undefined;
      core.delivery.onSend = async () => void (atSend = await core.stored(session(turn)));
      const outcome = await core.applier.apply(turn, email, await begin(turn), undefined, undefined);

      expect(core.delivery.log).toEqual([`reserve email_otp ${ANN} native-app`, `send ${ANN}`]);
      expect(atSend?.active).toMatchObject({ method: 'email_otp', state: { to: ANN } });
      expect(await core.stored(session(turn))).toMatchObject({ active: { method: 'email_otp', attempts: 0, expiresAt: NOW + 300_000, guard: `email:${ANN}` } });
      expect(turn.version).toBe(2);
      expect(outcome).toEqual({
        kind: 'need_more',
        authSession: session(turn),
        status: 'code_sent',
        challenge: { status: 'code_sent', destination: '***', challenge_type: 'email_otp', expires_in: 300 },
        // passkey needs a user first
        methods: ['email_otp', 'wallet'],
      });
      expect(await counted(core.metrics.steps, { method: 'email_otp', outcome: 'code_sent' })).toBe(1);
    });

    it('a failed send puts the flow back as it was (the code already delivered stays valid) and releases the reservation', async () => {
      const delivered = core.active('email_otp', { attempts: 2 });
      const turn = await core.turn({ active: delivered });
      core.delivery.failSend = new Error('SMTP is down');
      const error = await core.applier.apply(turn, email, await begin(turn), undefined, undefined).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(OAuthError);
      expect(error).toMatchObject({ code: 'temporarily_unavailable', headers: { 'Retry-After': '5' } });
      expect((await core.stored(session(turn)))?.active).toEqual(delivered);
      expect(core.delivery.log).toEqual([`reserve email_otp ${ANN} native-app`, `release ${ANN}`]);
      expect(await counted(core.metrics.steps, { outcome: 'undeliverable' })).toBe(1);
    });

    it('a lost compare-and-set releases the reservation and sends nothing', async () => {
      const turn = await core.turn();
      await raceAhead(turn);
      await expect(core.applier.apply(turn, email, await begin(turn), undefined, undefined)).rejects.toBeInstanceOf(FlowConflict);
      expect(core.delivery.log).toEqual([`reserve email_otp ${ANN} native-app`, `release ${ANN}`]);
      expect(core.delivery.sent).toEqual([]);
      expect((await core.stored(session(turn)))?.flowId).toBe('other-request');
    });

    it('a refused reservation (throttle, budget) writes nothing and sends nothing', async () => {
      const turn = await core.turn();
      core.delivery.refuseReserve = new OAuthError('slow_down', 'a code was just sent there');
      await expect(core.applier.apply(turn, email, await begin(turn), undefined, undefined)).rejects.toMatchObject({ code: 'slow_down' });
      expect(await core.flows.load(session(turn))).toEqual({ flow: turn.flow, version: 1 });
      expect(core.delivery.sent).toEqual([]);
    });

    /** A turn whose session this request created and has not stored yet; `log` records when it is stored. */
    const newSessionTurn = async (log: string[]): Promise<Turn> => {
      const turn = await core.turn({ created: true });
      const pending = {
        persisted: false,
        async persist(): Promise<void> {
          log.push(`persist (flow at version ${(await core.flows.load(session(turn)))?.version})`);
          pending.persisted = true;
        },
        async discard(): Promise<void> {
          pending.persisted = false;
        },
      };
      return { ...turn, caller: { ...turn.caller, pending } };
    };

    it('a session this request created is stored just before the flow is first written', async () => {
      const log: string[] = [];
      const turn = await newSessionTurn(log);
      core.delivery.onSend = async () => void log.push('send');
      await core.applier.apply(turn, email, await begin(turn), undefined, undefined);
      expect(log).toEqual(['persist (flow at version 1)', 'send']);
      expect(turn.version).toBe(2);
    });

    it('a refused reservation does not store the session this request created (issue 8: a refused request stores nothing)', async () => {
      const log: string[] = [];
      const turn = await newSessionTurn(log);
      core.delivery.refuseReserve = new OAuthError('slow_down', 'too many codes to this address');
      await expect(core.applier.apply(turn, email, await begin(turn), undefined, undefined)).rejects.toMatchObject({ code: 'slow_down' });
      expect(log).toEqual([]);
      expect(turn.caller.pending?.persisted).toBe(false);
    });
  });

  describe('rejected', () => {
    const wrong: InteractionStep = { kind: 'rejected', reason: 'invalid_code' };

    it('counts the attempt in the flow and says how many are left', async () => {
      const turn = await core.turn({ active: core.active('email_otp') });
      const outcome = await core.applier.apply(turn, email, wrong, turn.flow.active, undefined);
      expect(outcome).toMatchObject({ kind: 'need_more', status: 'invalid_code', challenge: { challenge_type: 'email_otp', attempts_remaining: 2 } });
      expect((await core.stored(session(turn)))?.active?.attempts).toBe(1);
      expect(core.audit.events).toEqual([expect.objectContaining({ type: 'challenge.failed', outcome: 'failure', details: { method: 'email_otp', reason: 'invalid_code', attempts: 1 } })]);
    });

    it('burns the challenge at CHALLENGE_MAX_ATTEMPTS: attempts_exceeded, nothing in progress, the method offered again', async () => {
      const turn = await core.turn({ active: core.active('email_otp', { attempts: 2 }) });
      const outcome = await core.applier.apply(turn, email, wrong, turn.flow.active, undefined);
      expect(outcome).toEqual({ kind: 'need_more', authSession: session(turn), status: 'attempts_exceeded', challenge: { challenge_type: 'email_otp' }, methods: ['email_otp', 'wallet'] });
      expect((await core.stored(session(turn)))?.active).toBeUndefined();
      expect(await counted(core.metrics.steps, { outcome: 'burned' })).toBe(1);
    });

    it('a late answer (reason expired) burns it at once with status expired', async () => {
      const turn = await core.turn({ active: core.active('email_otp') });
      const outcome = await core.applier.apply(turn, email, { kind: 'rejected', reason: 'expired' }, turn.flow.active, undefined);
      expect(outcome).toMatchObject({ kind: 'need_more', status: 'expired', challenge: { challenge_type: 'email_otp' } });
      expect((await core.stored(session(turn)))?.active).toBeUndefined();
    });

    it('invalid_input is an invalid_request and is not counted: the flow is not written', async () => {
      const active = core.active('email_otp', { attempts: 1 });
      const turn = await core.turn({ active });
      const step: InteractionStep = { kind: 'rejected', reason: 'invalid_input', description: 'code must be 6 digits' };
      await expect(core.applier.apply(turn, email, step, active, undefined)).rejects.toMatchObject({ code: 'invalid_request', description: 'code must be 6 digits' });
      expect(await core.flows.load(session(turn))).toEqual({ flow: turn.flow, version: 1 });
      expect(core.audit.events).toEqual([]);
    });

    it('with nothing in progress a rejection is an invalid_request, not a count', async () => {
      const turn = await core.turn();
      await expect(core.applier.apply(turn, email, wrong, undefined, undefined)).rejects.toMatchObject({ code: 'invalid_request' });
    });
  });

  describe('verified', () => {
    const verified: InteractionStep = { kind: 'verified', subject: { type: 'email', value: ANN }, amr: ['otp', 'email'], verifiedValue: ANN };

    it('consumes the challenge before it records the authentication', async () => {
      const turn = await core.turn({ active: core.active('email_otp') });
      const atRecord: (FlowState | undefined)[] = [];
      // A session without a user: the user and the record are one statement (UsersService.resolveAndRecord).
      const record = core.users.resolveAndRecord.bind(core.users);
      jest.spyOn(core.users, 'resolveAndRecord').mockImplementation(async (identity, now, r: Omit<NewAuthenticationRecord, 'userId'>) => {
        atRecord.push(await core.stored(session(turn)));
        return record(identity, now, r);
      });
      await core.applier.apply(turn, email, verified, turn.flow.active, undefined);
      expect(atRecord).toHaveLength(1);
      expect(atRecord[0]?.flowId).toBe(turn.flow.flowId);
      expect(atRecord[0]?.active).toBeUndefined();
      expect(core.users.authentications).toHaveLength(1);
    });

    it('records nothing when another request consumed the challenge first (two racing right answers count once)', async () => {
      const turn = await core.turn({ active: core.active('email_otp') });
      await raceAhead(turn);
      await expect(core.applier.apply(turn, email, verified, turn.flow.active, undefined)).rejects.toBeInstanceOf(FlowConflict);
      expect(core.users.authentications).toEqual([]);
      expect(core.users.users.size).toBe(0);
    });

    it('a success that satisfies the acr is a code; one that does not is additional_method_required', async () => {
      const satisfied = await core.turn({ active: core.active('email_otp') });
      await expect(core.applier.apply(satisfied, email, verified, satisfied.flow.active, undefined)).resolves.toMatchObject({ kind: 'code' });

      const more = await core.turn({ active: core.active('email_otp'), request: { acrValues: ACR.mfa } });
      await expect(core.applier.apply(more, email, verified, more.flow.active, undefined)).resolves.toMatchObject({
        kind: 'need_more',
        status: 'additional_method_required',
        challenge: { completed: 'email_otp' },
        methods: ['passkey', 'wallet'],
      });
    });

    it('an enrolment answers status enrolled with empty methods, never redirect_to_web', async () => {
      const turn = await core.turn({ request: { acrValues: ACR.phr }, active: undefined });
      const ann = core.users.addUser({ email: ANN });
      core.users.recorded(session(turn), ann.id, { method: 'email_otp', at: new Date(NOW - 10_000), flowId: turn.flow.flowId, verifies: 'email' });
      const active = { method: 'passkey', state: { enrol: true, user: ann.id }, attempts: 0, expiresAt: NOW + 120_000, enrolment: 'authentication' as const };
      const enrolled: InteractionStep = { kind: 'verified', subject: { type: 'user', id: ann.id }, amr: ['hwk', 'user'], credential: { action: 'add', credential: { method: 'passkey', credentialId: 'key-1', publicData: {} } } };
      const outcome = await core.applier.apply(turn, passkey, enrolled, active, 'authentication');
      expect(outcome).toEqual({ kind: 'need_more', authSession: session(turn), status: 'enrolled', challenge: { completed: 'passkey', provisional: true }, methods: [] });
      expect(core.users.authentications).toHaveLength(1); // the e-mail code only: enrolling authenticates nothing
      // Only the status keeps it native: the same facts after any other step go to the browser.
      await expect(core.decider.needMore(turn, 'method_required')).resolves.toMatchObject({ kind: 'redirect_to_web' });
    });
  });

  it('pending: stores what the client polls for and answers pending with its interval', async () => {
    const turn = await core.turn();
    const step = await wallet.begin(await core.facts.view(turn), {});
    const outcome = await core.applier.apply(turn, wallet, step, undefined, undefined);
    expect(outcome).toEqual({ kind: 'pending', authSession: session(turn), challengeType: 'wallet', reply: { request_uri: 'https://wallet.example/r/1' }, expiresIn: 120, intervalSeconds: 5 });
    expect((await core.stored(session(turn)))?.active).toMatchObject({ method: 'wallet', pending: { reply: { request_uri: 'https://wallet.example/r/1' }, intervalSeconds: 5 }, expiresAt: NOW + 120_000 });
  });
});
