import type { JsonObject } from '@fpa/challenge-kit';
import type { FlowState } from '../flow/flow-state';
import type { ChallengeInput } from '../http/challenge-request';
import type { EndpointOutcome } from '../loop/outcome';
import type { Turn } from '../loop/turn';

/**
 * Methods authenticate; routing decides where (STYLE.md). A routing rule looks at a turn before
 * any method runs and either lets the local methods proceed (undefined) or answers with an outcome
 * of its own — `redirect_to_web` on risk, and with federation `insufficient_information`,
 * `federate` and `redirect_to_app`. Rules are plug-ins with their own policy data; they never
 * appear in `methods` or in acr rules.
 */
export interface RoutingRule {
  readonly name: string;
  route(turn: Turn, input: ChallengeInput): Promise<EndpointOutcome | undefined>;
  /**
   * The way back in for what the rule sent elsewhere (FED-12: the downstream's result posted to
   * `response_uri`). The rule checks `payload` against the flow, writes the flow through `ctx.save`
   * (compare-and-set), records what was proved through `ctx.record`, and returns undefined to let
   * the loop decide (a code, or the challenge local policy still needs), or an outcome of its own.
   */
  resume?(turn: Turn, payload: JsonObject, ctx: RoutingResumeContext): Promise<EndpointOutcome | undefined>;
}

/** An authentication made elsewhere (a downstream server), as the loop records it for the flow's session. */
export interface ExternalAuthentication {
  readonly userId: string;
  /** Recorded as the event's method and factor class (e.g. `federation`). */
  readonly method: string;
  /** RFC 8176 values: `fed`, plus what the downstream proved as far as it is trusted. */
  readonly amr: readonly string[];
  readonly factors: 1 | 2;
  readonly phishingResistant: boolean;
  /** What identifies the authentication (e.g. `<downstream issuer>#<subject>`), for the record. */
  readonly verifiedValue: string;
  readonly audit?: JsonObject;
}

export interface RoutingResumeContext {
  /** Writes the flow at the turn's version; throws FlowConflict when another request wrote first. */
  save(next: FlowState): Promise<void>;
  record(auth: ExternalAuthentication): Promise<void>;
}

export const ROUTING_RULES = Symbol('ROUTING_RULES');
