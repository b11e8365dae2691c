import { ACR } from '@fpa/assurance';
import type { JsonObject } from '@fpa/challenge-kit';
import { OAuthError } from '@fpa/oauth-core';
import type { ChallengeInput } from '../http/challenge-request';
import type { RoutingResumeContext, RoutingRule } from '../routing/routing';
import { Core } from '../testing/core';
import { otpMethod, requestInfo } from '../testing/fakes';
import type { EndpointOutcome } from './outcome';
import type { Turn } from './turn';

const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
const FIRST: ChallengeInput = { client_id: 'native-app', response_type: 'code', code_challenge: CHALLENGE, code_challenge_method: 'S256' };

/** A routing rule like the federation's: the first turn answers `federate` and marks the flow; resume records what the payload says. */
class FakeFederation implements RoutingRule {
  readonly name = 'federation';
  userId = '';
  onResume: (turn: Turn, payload: JsonObject, ctx: RoutingResumeContext) => Promise<EndpointOutcome | undefined> = async (turn, payload, ctx) => {
    if (!turn.flow.routing?.federation) throw new OAuthError('invalid_request', 'no federation is waiting');
    await ctx.save({ ...turn.flow, routing: {} });
    await ctx.record({ userId: this.userId, method: 'federation', amr: ['fed'], factors: 1, phishingResistant: false, verifiedValue: `https://as2.example#${String(payload.authorization_code)}` });
    return undefined;
  };

  async route(turn: Turn): Promise<EndpointOutcome | undefined> {
    if (turn.flow.routing?.federation) return undefined;
    turn.flow = { ...turn.flow, routing: { federation: { issuer: 'https://as2.example' } } };
    turn.dirty = true;
    return { kind: 'federate', authSession: turn.caller.session.authSession, federationUri: 'https://as2.example/ac', federationBody: 'client_id=a&request_uri=u', responseUri: 'https://as1.example/federation/callback' };
  }

  resume(turn: Turn, payload: JsonObject, ctx: RoutingResumeContext): Promise<EndpointOutcome | undefined> {
    return this.onResume(turn, payload, ctx);
  }
}

describe('InteractionLoop.resumeRouting: the way back in for routing (FED-12)', () => {
  let core: Core;
  let rule: FakeFederation;
  beforeEach(() => {
    rule = new FakeFederation();
    core = new Core({ methods: [otpMethod('email_otp', 'email')], routing: [rule] });
    rule.userId = core.users.addUser().id;
  });
  afterEach(async () => core.close());

  const federating = async (input: ChallengeInput = {}): Promise<string> => {
    const outcome = await core.loop.handle({ ...FIRST, ...input }, requestInfo());
    expect(outcome.kind).toBe('federate');
    return outcome.authSession;
  };
  const resume = (authSession: string, jkt = 'jkt-1', payload: JsonObject = { authorization_code: 'c-1' }) => core.loop.resumeRouting('federation', authSession, payload, requestInfo(), jkt);

  it('a routing outcome stores the flow with the rule’s state (the loop writes a dirty turn)', async () => {
    const authSession = await federating();
    expect((await core.stored(authSession))?.routing).toEqual({ federation: { issuer: 'https://as2.example' } });
  });

  it('records the authentication made elsewhere and decides: a code when it suffices', async () => {
    const authSession = await federating();
    await expect(resume(authSession)).resolves.toMatchObject({ kind: 'code', authSession });
    expect(core.users.authentications).toEqual([expect.objectContaining({ authSession, userId: rule.userId, method: 'federation', amr: ['fed'], verifiedValue: 'https://as2.example#c-1' })]);
  });

  it('or what local policy still needs (acr mfa after one factor)', async () => {
    const authSession = await federating({ acr_values: ACR.mfa });
    await expect(resume(authSession)).resolves.toMatchObject({ kind: 'need_more', status: 'additional_method_required', challenge: { completed: 'federation' } });
  });

  it('FIPA-26: another key, an unknown session or an unknown rule is refused, and nothing is recorded', async () => {
    const authSession = await federating();
    await expect(resume(authSession, 'jkt-other')).rejects.toMatchObject({ code: 'invalid_session' });
    await expect(resume('no-such-session')).rejects.toMatchObject({ code: 'invalid_session' });
    await expect(core.loop.resumeRouting('wallet', authSession, {}, requestInfo(), 'jkt-1')).rejects.toMatchObject({ code: 'invalid_request' });
    expect(core.users.authentications).toEqual([]);
    expect((await core.stored(authSession))?.routing?.federation).toBeDefined();
  });

  it('a refusal by the rule carries the auth_session (FIPA-17) and leaves the flow as it was', async () => {
    const authSession = await federating();
    rule.onResume = async () => {
      throw new OAuthError('invalid_grant', 'refused downstream');
    };
    await expect(resume(authSession)).rejects.toMatchObject({ code: 'invalid_grant', extra: { auth_session: authSession } });
    expect((await core.stored(authSession))?.routing?.federation).toBeDefined();
    expect(core.users.authentications).toEqual([]);
  });

  it('one session, one user: an authentication of someone else is access_denied', async () => {
    const authSession = await federating();
    core.users.recorded(authSession, core.users.addUser().id, { method: 'email_otp', at: new Date(core.clock.nowMs() - 1000) });
    await expect(resume(authSession)).rejects.toMatchObject({ code: 'access_denied' });
  });
});
