import type { RoutingPolicy } from '@fpa/clients';
import type { EndpointOutcome, Turn } from '@fpa/interaction';
import { FixedClock } from '@fpa/oauth-core';
import { MetricsRegistry } from '@fpa/platform';
import { FederationMetrics } from '../federation.metrics';
import type { FederationCompleter } from './federation-completer.service';
import type { FederationStarter } from './federation-starter.service';
import { toJson, type FederationState } from './federation-state';
import { FederationRouting } from './federation.routing';

const port = <T>(fake: unknown): T => fake as T;
const POLICY: RoutingPolicy = {
  rounds: [{ options: { bank: { title: 'Bank', values: { b: { name: 'B' }, here: { name: 'Here' }, other: { name: 'Other' } } } } }, { inputs: { email: { title: 'E-mail' } } }],
  routes: [{ when: { bank: 'b' }, federate: 'https://as2.example' }, { when: { bank: 'here' }, local: true }],
};

describe('FederationRouting: the routing policy as a RoutingRule (issue 10)', () => {
  const clock = new FixedClock(1_800_000_000_000);
  let starts: string[];
  let rule: FederationRouting;

  beforeEach(() => {
    starts = [];
    const starter = port<FederationStarter>({
      responseUri: () => 'https://as1.example/federation/callback',
      start: async (turn: Turn, issuer: string) => {
        starts.push(issuer);
        const state: FederationState = { id: `f${starts.length}`, issuer, federationUri: `${issuer}/ac`, federationBody: `client_id=s&request_uri=u${starts.length}`, sealedVerifier: 'sealed', expiresAt: clock.nowMs() + 60_000, openid: false };
        return { state, outcome: { kind: 'federate', authSession: turn.caller.session.authSession, federationUri: state.federationUri, federationBody: state.federationBody, responseUri: 'https://as1.example/federation/callback' } };
      },
    });
    rule = new FederationRouting(clock, starter, port<FederationCompleter>({}), new FederationMetrics(new MetricsRegistry()));
  });

  const turn = (o: { policy?: RoutingPolicy | null; mode?: 'public' | 'browser'; routing?: Turn['flow']['routing'] } = {}): Turn =>
    port<Turn>({
      caller: { mode: o.mode ?? 'public', session: { authSession: 's-1' }, client: { id: 'app', routingPolicy: o.policy === undefined ? POLICY : o.policy } },
      flow: { routing: o.routing, request: {} },
      dirty: false,
    });

  it('no policy, or the browser login: the methods proceed (undefined), nothing written', async () => {
    for (const t of [turn({ policy: null }), turn({ mode: 'browser' })]) {
      await expect(rule.route(t, {})).resolves.toBeUndefined();
      expect(t.dirty).toBe(false);
    }
  });

  it('asks the first round, then the second when the first answer was not enough; answers are kept in the flow', async () => {
    const t = turn();
    expect(await rule.route(t, {})).toMatchObject({ kind: 'insufficient_information', userPrompt: { options: { bank: expect.any(Object) } } });
    const second = await rule.route(t, { bank: 'other' });
    expect(second).toEqual({ kind: 'insufficient_information', authSession: 's-1', userPrompt: { inputs: { email: { title: 'E-mail' } } } });
    expect(t.flow.routing).toEqual({ answers: { bank: 'other' } });
    expect(t.dirty).toBe(true);
  });

  it('local: decided once, never asked again in the flow', async () => {
    const t = turn();
    await expect(rule.route(t, { bank: 'here' })).resolves.toBeUndefined();
    expect(t.flow.routing).toEqual({ answers: { bank: 'here' }, decided: 'local' });
    await expect(rule.route(t, { bank: 'b' })).resolves.toBeUndefined();
    expect(starts).toEqual([]);
  });

  it('federate: one start while the federation is open (the same answer again), a new one once it expired', async () => {
    const t = turn();
    const first = (await rule.route(t, { bank: 'b' })) as Extract<EndpointOutcome, { kind: 'federate' }>;
    expect(first).toMatchObject({ kind: 'federate', federationBody: 'client_id=s&request_uri=u1' });
    expect(await rule.route(t, {})).toEqual(first);
    expect(starts).toEqual(['https://as2.example']);
    const f = t.flow.routing!.federation!;
    const expired = turn({ routing: { answers: { bank: 'b' }, federation: { ...f, expires_at: clock.nowMs() - 1 } } });
    expect(await rule.route(expired, {})).toMatchObject({ federationBody: 'client_id=s&request_uri=u2' });
  });

  it('resume without a federation waiting is invalid_request (a replayed code)', async () => {
    await expect(rule.resume(turn(), { authorization_code: 'c' }, { save: async () => undefined, record: async () => undefined })).rejects.toMatchObject({ code: 'invalid_request' });
    const stored = toJson({ id: 'x', issuer: 'i', federationUri: 'u', federationBody: 'b', sealedVerifier: 's', expiresAt: 1, openid: false });
    expect(stored).not.toHaveProperty('verifier');
  });
});
