import { ACR } from '@fpa/assurance';
import type { ChallengeMethod } from '@fpa/challenge-kit';
import { OAuthError } from '@fpa/oauth-core';
import type { FlowState } from '../flow/flow-state';
import type { ChallengeInput } from '../http/challenge-request';
import { Core } from '../testing/core';
import { CODE, counted, NOW, otpMethod, passkeyMethod, requestInfo, walletMethod } from '../testing/fakes';
import type { EndpointOutcome } from './outcome';

const ANN = 'ann@example.com';
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
const FIRST: ChallengeInput = { client_id: 'native-app', response_type: 'code', code_challenge: CHALLENGE, code_challenge_method: 'S256' };

describe('InteractionLoop.handle: one request, one outcome', () => {
  let email: ChallengeMethod;
  let core: Core;
  beforeEach(() => {
    email = otpMethod('email_otp', 'email');
    core = new Core({ methods: [email, passkeyMethod(), walletMethod()] });
  });
  afterEach(async () => core.close());

  const handle = (input: ChallengeInput, headers: Record<string, string> = {}): Promise<EndpointOutcome> => core.loop.handle(input, requestInfo(headers));
  const failure = async (p: Promise<unknown>): Promise<OAuthError> => {
    const e = await p.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(OAuthError);
    return e as OAuthError;
  };
  /** A first request that sent Ann a code: its auth_session. */
  const codeSent = async (): Promise<string> => {
    const outcome = await handle({ ...FIRST, email: ANN });
    expect(outcome).toMatchObject({ kind: 'need_more', status: 'code_sent' });
    return outcome.authSession;
  };

  it('runs a flow: the first request sends a code, the answer gets one', async () => {
    const authSession = await codeSent();
    expect(core.delivery.sent).toEqual([expect.objectContaining({ to: ANN })]);
    const answered = await handle({ auth_session: authSession, code: CODE });
    expect(answered).toEqual({ kind: 'code', authSession, authorizationCode: core.codes.issued[0].code });
    await expect(core.flows.load(authSession)).resolves.toBeUndefined();
  });

  it.each(['redirect_uri', 'response_mode'])('%s is refused before anything is bound (FIPA-8)', async (p) => {
    const e = await failure(handle({ ...FIRST, [p]: 'x' }));
    expect(e.code).toBe('invalid_request');
    expect(e.extra).not.toHaveProperty('auth_session');
    expect(core.binding.bound).toEqual([]);
  });

  it('an empty follow-up with no flow mints no code, however satisfied the session is (finding 5)', async () => {
    const turn = await core.turn();
    await core.flows.complete(turn.caller.session.authSession, turn.version);
    core.users.recorded(turn.caller.session.authSession, core.users.addUser().id, { method: 'email_otp', at: new Date(NOW - 1000), verifies: 'email' });
    const e = await failure(handle({ auth_session: turn.caller.session.authSession }));
    expect(e).toMatchObject({ code: 'invalid_request', extra: { auth_session: turn.caller.session.authSession } });
    expect(core.codes.issued).toEqual([]);
  });

  it('an answer with nothing in progress (a code used twice, or after a burn) is refused', async () => {
    const turn = await core.turn();
    const e = await failure(handle({ auth_session: turn.caller.session.authSession, code: CODE }));
    expect(e.description).toMatch(/no challenge is in progress/);
    expect(core.users.authentications).toEqual([]);
    expect(core.codes.issued).toEqual([]);
  });

  it('a follow-up proving another DPoP key is invalid_session (FIPA-26)', async () => {
    const authSession = await codeSent();
    const e = await failure(handle({ auth_session: authSession, code: CODE }, { 'x-jkt': 'someone-else' }));
    expect(e).toMatchObject({ code: 'invalid_session', extra: { auth_session: authSession } });
    expect(core.users.authentications).toEqual([]);
  });

  it('a new authorization request replaces the flow in progress by compare-and-set', async () => {
    const authSession = await codeSent();
    const before = (await core.flows.load(authSession))!;
    const newFlow = jest.spyOn(core.starter, 'newFlow');
    // Another request for the session writes the flow after this one read it, once.
    const save = core.flows.save.bind(core.flows);
    jest.spyOn(core.flows, 'save').mockImplementationOnce(async (flow: FlowState, version: number) => {
      await save({ ...before.flow, flowId: 'concurrent' }, version);
      return save(flow, version);
    });
    const outcome = await handle({ auth_session: authSession, acr_values: ACR.phr, code_challenge: CHALLENGE, code_challenge_method: 'S256' });
    expect(newFlow).toHaveBeenCalledTimes(2);
    const after = (await core.flows.load(authSession))!;
    expect(after.flow).toMatchObject({ authSession, request: { acrValues: ACR.phr } });
    expect(after.flow.flowId).not.toBe(before.flow.flowId);
    expect(after.flow.flowId).not.toBe('concurrent');
    expect(after.flow.active).toBeUndefined();
    expect(after.version).toBe(before.version + 2);
    expect(outcome.kind).toBe('redirect_to_web');
  });

  describe('conflicts', () => {
    /** Every begin loses the race `times` times: another request writes the flow first. */
    const loseRaces = (times: number): jest.SpyInstance => {
      const begin = email.begin.bind(email);
      let lost = 0;
      return jest.spyOn(email, 'begin').mockImplementation(async (view, params) => {
        if (lost++ < times) {
          const loaded = (await core.flows.load(view.authSession))!;
          await core.flows.save({ ...loaded.flow, createdAt: loaded.flow.createdAt + 1 }, loaded.version);
        }
        return begin(view, params);
      });
    };

    it('a FlowConflict is retried: after two lost races the step runs on what the other request left, and one code is sent', async () => {
      const turn = await core.turn({ mode: 'device' });
      const begin = loseRaces(2);
      const outcome = await handle({ auth_session: turn.caller.session.authSession, challenge_type: 'email_otp', email: ANN });
      expect(outcome).toMatchObject({ kind: 'need_more', status: 'code_sent' });
      expect(begin).toHaveBeenCalledTimes(3);
      expect(core.delivery.sent).toHaveLength(1);
      expect(core.delivery.log.filter((l) => l.startsWith('release'))).toHaveLength(2);
    });

    it('after five lost races it gives up: invalid_request with the auth_session, nothing sent', async () => {
      const turn = await core.turn({ mode: 'device' });
      const begin = loseRaces(Infinity);
      const e = await failure(handle({ auth_session: turn.caller.session.authSession, challenge_type: 'email_otp', email: ANN }));
      expect(e).toMatchObject({ code: 'invalid_request', extra: { auth_session: turn.caller.session.authSession } });
      expect(begin).toHaveBeenCalledTimes(5);
      expect(core.delivery.sent).toEqual([]);
    });
  });

  describe('admission: rate limits, the binding\'s single-use values and the flow read in one store round trip (issue 13)', () => {
    const proofClaim = (jti: string) => ({ claim: { key: `jti:dpop:${jti}`, ttlSeconds: 60 }, refuse: () => new OAuthError('invalid_dpop_proof', 'DPoP proof jti was already used') });
    /** The fake binding hands the loop a proof jti to claim, as the DPoP public-client binding does. */
    const withProof = (jti: string): void => {
      const bind = core.binding.bind.bind(core.binding);
      jest.spyOn(core.binding, 'bind').mockImplementation(async (input, request) => ({ ...(await bind(input, request)), claims: [proofClaim(jti)] }));
    };

    it('one admit per request: the flow it read serves the turn, no second read', async () => {
      const authSession = await codeSent();
      const admit = jest.spyOn(core.store, 'admit');
      const load = jest.spyOn(core.flows, 'load');
      await expect(handle({ auth_session: authSession, code: CODE })).resolves.toMatchObject({ kind: 'code' });
      expect(admit).toHaveBeenCalledTimes(1);
      expect(admit.mock.calls[0][0]).toMatchObject({ hits: [expect.objectContaining({ limit: core.config.challenge.rateLimitIp }), expect.objectContaining({ limit: core.config.challenge.rateLimitSession })], read: expect.stringMatching(/^challenge:/) });
      expect(load).not.toHaveBeenCalled();
    });

    it('a proof jti the binding left to the loop is accepted once (DPOP-14)', async () => {
      withProof('once');
      const authSession = await codeSent();
      const e = await failure(handle({ auth_session: authSession, code: CODE }));
      expect(e.code).toBe('invalid_dpop_proof');
      expect(core.codes.issued).toEqual([]);
    });

    it('over the session limit (FIPA-28): slow_down with the session, before anything is claimed or checked', async () => {
      const limited = new Core({ methods: [email], env: { CHALLENGE_RATE_LIMIT_SESSION: '2' } });
      try {
        const first = await limited.loop.handle({ ...FIRST, email: ANN }, requestInfo());
        await limited.loop.handle({ auth_session: first.authSession, code: '000000' }, requestInfo());
        const e = await failure(limited.loop.handle({ auth_session: first.authSession, code: CODE }, requestInfo()));
        expect(e).toMatchObject({ code: 'slow_down', extra: { auth_session: first.authSession } });
        expect(limited.codes.issued).toEqual([]);
      } finally {
        await limited.close();
      }
    });

    it('a request its binding refuses still counts against its address, and over the limit it is slow_down', async () => {
      const limited = new Core({ methods: [email], env: { CHALLENGE_RATE_LIMIT_IP: '1' } });
      try {
        jest.spyOn(limited.binding, 'bind').mockRejectedValue(new OAuthError('invalid_dpop_proof', 'bad proof'));
        await expect(limited.loop.handle(FIRST, requestInfo())).rejects.toMatchObject({ code: 'invalid_dpop_proof' });
        await expect(limited.loop.handle(FIRST, requestInfo())).rejects.toMatchObject({ code: 'slow_down' });
      } finally {
        await limited.close();
      }
    });

    it('an address this process saw over its limit is refused before its binding (no proof check, no session read, no store call) while the window lasts', async () => {
      const limited = new Core({ methods: [email], env: { CHALLENGE_RATE_LIMIT_IP: '1' } });
      try {
        await limited.loop.handle({ ...FIRST, email: ANN }, requestInfo());
        await expect(limited.loop.handle({ ...FIRST, email: ANN }, requestInfo())).rejects.toMatchObject({ code: 'slow_down', reason: 'rate_limited:challenge-ip' });
        const bind = jest.spyOn(limited.binding, 'bind');
        const admit = jest.spyOn(limited.store, 'admit');
        const hit = jest.spyOn(limited.store, 'hit');
        const e = await failure(limited.loop.handle({ ...FIRST, email: ANN }, requestInfo()));
        expect(e).toMatchObject({ code: 'slow_down', reason: 'rate_limited:challenge-ip', headers: { 'Retry-After': expect.stringMatching(/^\d+$/) } });
        expect(e.extra).not.toHaveProperty('auth_session');
        expect([bind, admit, hit].map((spy) => spy.mock.calls.length)).toEqual([0, 0, 0]);
        expect(await counted(limited.metrics.outcomes, { outcome: 'slow_down' })).toBe(2);
        // Another address is not affected.
        await expect(limited.loop.handle({ ...FIRST, email: ANN }, { ...requestInfo(), ip: '198.51.100.7' })).resolves.toMatchObject({ kind: 'need_more' });
      } finally {
        await limited.close();
      }
    });
  });

  describe('errors and metrics', () => {
    it('errors after the session exists carry auth_session (FIPA-17), a server_error never does', async () => {
      const turn = await core.turn({ mode: 'device' });
      const authSession = turn.caller.session.authSession;
      jest.spyOn(email, 'begin').mockRejectedValueOnce(new OAuthError('slow_down', 'wait')).mockRejectedValueOnce(new OAuthError('server_error', undefined, { reason: 'boom' }));
      await expect(handle({ auth_session: authSession, challenge_type: 'email_otp' })).rejects.toMatchObject({ code: 'slow_down', extra: { auth_session: authSession } });
      const e = await failure(handle({ auth_session: authSession, challenge_type: 'email_otp' }));
      expect(e.code).toBe('server_error');
      expect(e.extra).not.toHaveProperty('auth_session');
    });

    it('counts each request once: its outcome kind, or its error code', async () => {
      const authSession = await codeSent();
      await failure(handle({ auth_session: authSession, code: 'garbage' }));
      await handle({ auth_session: authSession, code: CODE });
      expect(await counted(core.metrics.outcomes)).toBe(3);
      expect(await counted(core.metrics.outcomes, { outcome: 'need_more' })).toBe(1);
      expect(await counted(core.metrics.outcomes, { outcome: 'invalid_request' })).toBe(1);
      expect(await counted(core.metrics.outcomes, { outcome: 'code' })).toBe(1);
    });

    it('a redirect_to_web is counted once, not twice', async () => {
      await expect(handle({ ...FIRST, acr_values: ACR.phr })).resolves.toMatchObject({ kind: 'redirect_to_web' });
      expect(await counted(core.metrics.outcomes)).toBe(1);
      expect(await counted(core.metrics.outcomes, { outcome: 'redirect_to_web' })).toBe(1);
    });

    it('refuses a challenge_type or action that is not a short string', async () => {
      await expect(handle({ ...FIRST, challenge_type: 'x'.repeat(65) })).rejects.toMatchObject({ code: 'invalid_request' });
      await expect(handle({ ...FIRST, challenge_type: 'email_otp', action: { resend: true } })).rejects.toMatchObject({ code: 'invalid_request' });
    });
  });

  it('a routing rule answers before any method runs', async () => {
    const begin = jest.fn();
    core = new Core({ methods: [{ ...email, begin }], routing: [{ name: 'risk', route: async (turn) => ({ kind: 'redirect_to_web', authSession: turn.caller.session.authSession }) }] });
    await expect(handle({ ...FIRST, email: ANN })).resolves.toMatchObject({ kind: 'redirect_to_web' });
    expect(begin).not.toHaveBeenCalled();
  });

  it('a follow-up without a code while a challenge waits outside is a poll (WALLET-2)', async () => {
    const started = await handle({ ...FIRST, challenge_type: 'wallet' });
    expect(started).toMatchObject({ kind: 'pending', challengeType: 'wallet', expiresIn: 120 });
    core.clock.advance(20);
    await expect(handle({ auth_session: started.authSession })).resolves.toMatchObject({ kind: 'pending', expiresIn: 100, intervalSeconds: 5 });
  });
});
