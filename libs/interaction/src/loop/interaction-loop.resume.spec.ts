import { ACR } from '@fpa/assurance';
import type { ChallengeMethod } from '@fpa/challenge-kit';
import type { ChallengeInput } from '../http/challenge-request';
import { Core } from '../testing/core';
import { otpMethod, requestInfo, walletMethod } from '../testing/fakes';
import type { EndpointOutcome } from './outcome';

const ANN = 'ann@example.com';
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
const FIRST: ChallengeInput = { client_id: 'native-app', response_type: 'code', code_challenge: CHALLENGE, code_challenge_method: 'S256' };

describe('InteractionLoop.resume: a way back in from outside (a wallet, a federation callback)', () => {
  let wallet: ChallengeMethod;
  let core: Core;
  beforeEach(() => {
    wallet = walletMethod();
    core = new Core({ methods: [wallet, otpMethod('sms_otp', 'sms')] });
  });
  afterEach(async () => core.close());

  const handle = (input: ChallengeInput): Promise<EndpointOutcome> => core.loop.handle(input, requestInfo());
  const resume = (authSession: string, payload: Record<string, string>, respond?: 'poll' | 'caller'): Promise<EndpointOutcome | undefined> => core.loop.resume(authSession, payload, requestInfo(), { respond });
  /** The app started a flow whose wallet challenge waits: its auth_session. */
  const waiting = async (input: ChallengeInput = {}): Promise<string> => (await handle({ ...FIRST, challenge_type: 'wallet', ...input })).authSession;

  it('an unknown auth_session is invalid_session', async () => {
    await expect(resume('no-such-session', { email: ANN })).rejects.toMatchObject({ code: 'invalid_session' });
  });

  it('a revoked or expired session cannot be resumed: nothing is recorded', async () => {
    for (const change of [{ status: 'revoked' as const }, { expiresAt: new Date(core.clock.nowMs() - 1) }]) {
      const authSession = await waiting();
      const stored = (await core.sessions.find(authSession))!;
      core.sessions.add({ ...stored, ...change });
      await expect(resume(authSession, { email: ANN })).rejects.toMatchObject({ code: 'invalid_session' });
    }
    expect(core.users.authentications).toEqual([]);
  });

  it('a session without a flow, or a flow with nothing waiting, is invalid_session', async () => {
    const turn = await core.turn();
    await expect(resume(turn.caller.session.authSession, { email: ANN })).rejects.toMatchObject({ code: 'invalid_session' });
    await core.flows.complete(turn.caller.session.authSession, turn.version);
    await expect(resume(turn.caller.session.authSession, { email: ANN })).rejects.toMatchObject({ code: 'invalid_session' });
  });

  it("acts for the flow's own client and key, and records the authentication in the flow", async () => {
    const authSession = await waiting({ acr_values: ACR.mfa });
    const flow = (await core.stored(authSession))!;
    // By default the party resuming (a wallet) gets no outcome: the app's next poll decides.
    await expect(resume(authSession, { email: ANN })).resolves.toBeUndefined();
    expect(core.users.authentications).toEqual([expect.objectContaining({ authSession, method: 'wallet', flowId: flow.flowId, verifiedValue: ANN })]);
    expect((await core.stored(authSession))?.active).toBeUndefined();
  });

  it('a poll while the success is being recorded hears pending, never method_required; nothing can answer it meanwhile (WALLET-2)', async () => {
    const authSession = await waiting({ acr_values: ACR.oneFactor });
    const inner = core.recorder.record.bind(core.recorder);
    const seen: EndpointOutcome[] = [];
    jest.spyOn(core.recorder, 'record').mockImplementation(async (...args) => {
      seen.push(await handle({ auth_session: authSession }));
      await expect(resume(authSession, { email: ANN })).rejects.toMatchObject({ code: 'invalid_request' });
      return inner(...args);
    });
    await expect(resume(authSession, { email: ANN })).resolves.toBeUndefined();
    expect(seen).toEqual([expect.objectContaining({ kind: 'pending', authSession })]);
    expect(core.users.authentications).toHaveLength(1);
    expect((await core.stored(authSession))?.active).toBeUndefined();
    await expect(handle({ auth_session: authSession })).resolves.toMatchObject({ kind: 'code' });
  });

  it('a success that cannot be recorded ends the challenge instead of leaving it settling', async () => {
    const authSession = await waiting();
    jest.spyOn(core.recorder, 'record').mockRejectedValueOnce(new Error('database gone'));
    await expect(resume(authSession, { email: ANN })).rejects.toThrow('database gone');
    expect((await core.stored(authSession))?.active).toBeUndefined();
  });

  it("a caller who is the client itself (FED-12's response_uri) gets the outcome", async () => {
    const authSession = await waiting({ acr_values: ACR.mfa });
    await expect(resume(authSession, { email: ANN }, 'caller')).resolves.toMatchObject({ kind: 'need_more', authSession, status: 'additional_method_required', challenge: { completed: 'wallet' } });
  });

  it("the app's next follow-up sees what the resume left", async () => {
    const authSession = await waiting({ acr_values: ACR.mfa });
    await resume(authSession, { email: ANN });
    await expect(handle({ auth_session: authSession })).resolves.toMatchObject({ kind: 'need_more', status: 'method_required', methods: ['sms_otp'] });
  });

  it('a wrong answer from outside counts like any other', async () => {
    const authSession = await waiting();
    await expect(resume(authSession, {})).resolves.toMatchObject({ kind: 'need_more', status: 'invalid_code', challenge: { attempts_remaining: core.config.challenge.maxAttempts - 1 } });
    expect((await core.stored(authSession))?.active).toMatchObject({ method: 'wallet', attempts: 1 });
  });

  it('runs under the same compare-and-set as answers: a lost race is retried on the fresh flow', async () => {
    const authSession = await waiting({ acr_values: ACR.mfa });
    const inner = wallet.resume!.bind(wallet);
    let raced = false;
    const spy = jest.spyOn(wallet, 'resume').mockImplementation(async (view, state, payload) => {
      if (!raced) {
        raced = true;
        const loaded = (await core.flows.load(authSession))!;
        await core.flows.save({ ...loaded.flow }, loaded.version);
      }
      return inner(view, state, payload);
    });
    await expect(resume(authSession, { email: ANN }, 'caller')).resolves.toMatchObject({ kind: 'need_more', status: 'additional_method_required' });
    expect(spy).toHaveBeenCalledTimes(2);
    expect(core.users.authentications).toHaveLength(1);
  });

  describe('answer parameters a method declares (ChallengeMethod.answers: WALLET-1 response_code)', () => {
    const codeWallet = (): ChallengeMethod => ({
      ...walletMethod('code_wallet'),
      answers: ['response_code'],
      answer: async (_view, _state, params) => (params.response_code === 'right' ? { kind: 'verified', subject: { type: 'email', value: ANN }, amr: ['vc'], verifiedValue: ANN } : { kind: 'rejected', reason: 'invalid_code' }),
    });

    it('answer a pending challenge of that method; a poll without them still polls', async () => {
      const c = new Core({ methods: [codeWallet(), otpMethod('sms_otp', 'sms')] });
      try {
        const authSession = (await c.loop.handle({ ...FIRST, challenge_type: 'code_wallet' }, requestInfo())).authSession;
        await expect(c.loop.handle({ auth_session: authSession }, requestInfo())).resolves.toMatchObject({ kind: 'pending' });
        await expect(c.loop.handle({ auth_session: authSession, response_code: 'wrong' }, requestInfo())).resolves.toMatchObject({ kind: 'need_more', status: 'invalid_code' });
        await expect(c.loop.handle({ auth_session: authSession, response_code: 'right' }, requestInfo())).resolves.toMatchObject({ kind: 'code' });
      } finally {
        await c.close();
      }
    });

    it('with nothing in progress they are refused like a code used again', async () => {
      const c = new Core({ methods: [codeWallet(), otpMethod('sms_otp', 'sms')] });
      try {
        const turn = await c.turn();
        await expect(c.loop.handle({ auth_session: turn.caller.session.authSession, response_code: 'right' }, requestInfo())).rejects.toMatchObject({ code: 'invalid_request' });
      } finally {
        await c.close();
      }
    });

    it('another method’s answer parameters do not answer this pending challenge (they poll)', async () => {
      const c = new Core({ methods: [walletMethod(), codeWallet(), otpMethod('sms_otp', 'sms')] });
      try {
        const authSession = (await c.loop.handle({ ...FIRST, challenge_type: 'wallet' }, requestInfo())).authSession;
        await expect(c.loop.handle({ auth_session: authSession, response_code: 'right' }, requestInfo())).rejects.toMatchObject({ code: 'invalid_request' });
        expect(c.users.authentications).toEqual([]);
      } finally {
        await c.close();
      }
    });
  });
});
