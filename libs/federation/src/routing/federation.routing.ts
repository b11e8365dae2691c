import { Inject, Injectable } from '@nestjs/common';
import type { JsonObject } from '@fpa/challenge-kit';
import { routingPolicyOf } from '@fpa/clients';
import type { ChallengeInput, EndpointOutcome, RoutingResumeContext, RoutingRule, RoutingState, Turn } from '@fpa/interaction';
import { CLOCK, OAuthError, type Clock } from '@fpa/oauth-core';
import { FederationMetrics } from '../federation.metrics';
import { FederationCompleter } from './federation-completer.service';
import { FederationStarter } from './federation-starter.service';
import { fromJson, toJson, type FederationState } from './federation-state';
import { decideRoute, readAnswers } from './routing-decision';

export const FEDERATION_ROUTING = 'federation';

/**
 * The client's routing policy at the native endpoint (issue 10): a RoutingRule plug-in, registered
 * with `ChallengeModule.forRoot({ routing: [FederationRouting] })` — never a branch of the loop,
 * never a challenge method. Per turn: a flow routed locally goes on to the methods; otherwise the
 * answers so far decide between asking (`insufficient_information`, FED-6/7), authenticating
 * locally, and federating (`federate`, FED-5/11). `resume` is FED-12's response_uri.
 */
@Injectable()
export class FederationRouting implements RoutingRule {
  readonly name = FEDERATION_ROUTING;

  constructor(
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly starter: FederationStarter,
    private readonly completer: FederationCompleter,
    private readonly metrics: FederationMetrics,
  ) {}

  async route(turn: Turn, input: ChallengeInput): Promise<EndpointOutcome | undefined> {
    // The browser login routes nowhere: federation is the native endpoint's (FED-5 is a FiPA error response).
    if (turn.caller.mode === 'browser') return undefined;
    const policy = routingPolicyOf(turn.caller.client);
    if (!policy) return undefined;
    const routing: RoutingState = turn.flow.routing ?? {};
    if (routing.decided === 'local') return undefined;
    const authSession = turn.caller.session.authSession;
    const inProgress = fromJson(routing.federation);
    // Asked again while the federation is open: the same answer (one PAR per federation).
    if (inProgress && this.clock.nowMs() < inProgress.expiresAt) return this.federateOutcome(turn, inProgress);
    const answers = { ...(routing.answers ?? {}), ...readAnswers(policy, input) };
    const decision = decideRoute(policy, answers);
    this.metrics.prompts.inc({ decision: decision.kind });
    switch (decision.kind) {
      case 'local':
        this.write(turn, { answers, decided: 'local' });
        return undefined;
      case 'refuse':
        throw new OAuthError('access_denied', 'no way to sign in matches these answers');
      case 'ask':
        this.write(turn, { answers });
        return { kind: 'insufficient_information', authSession, userPrompt: decision.prompt, ...(decision.logo ? { logo: decision.logo } : {}) };
      case 'federate': {
        const { state, outcome } = await this.starter.start(turn, decision.issuer, answers);
        this.write(turn, { answers, federation: toJson(state) });
        return outcome;
      }
    }
  }

  async resume(turn: Turn, payload: JsonObject, ctx: RoutingResumeContext): Promise<EndpointOutcome | undefined> {
    const routing: RoutingState = turn.flow.routing ?? {};
    const federation = fromJson(routing.federation);
    // A replayed code (its federation is over), or a session that never federated.
    if (!federation) throw new OAuthError('invalid_request', 'no federation is waiting for this auth_session');
    await this.completer.complete(turn, federation, payload, {
      saveFederation: (state: FederationState | undefined) => {
        const { federation: _gone, ...rest } = turn.flow.routing ?? {};
        return ctx.save({ ...turn.flow, routing: state ? { ...rest, federation: toJson(state) } : rest });
      },
      record: (auth) => ctx.record(auth),
    });
    return undefined;
  }

  private federateOutcome(turn: Turn, f: FederationState): EndpointOutcome {
    return { kind: 'federate', authSession: turn.caller.session.authSession, federationUri: f.federationUri, federationBody: f.federationBody, responseUri: this.starter.responseUri() };
  }

  /** The loop stores a dirty turn before it answers (the flow's compare-and-set). */
  private write(turn: Turn, routing: RoutingState): void {
    turn.flow = { ...turn.flow, routing };
    turn.dirty = true;
  }
}
