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
}

export const ROUTING_RULES = Symbol('ROUTING_RULES');
