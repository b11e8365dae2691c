import { DERIVED_CONDITIONS, FREE_TEXT_INPUTS, type RoutingPolicy, type RoutingRound } from '@fpa/clients';
import type { ChallengeInput, UserPrompt } from '@fpa/interaction';
import { OAuthError } from '@fpa/oauth-core';
import { normalizeEmail, normalizePhone } from '@fpa/users';

export type RoutingDecision =
  | { readonly kind: 'local' }
  | { readonly kind: 'federate'; readonly issuer: string }
  /** FED-6: ask what is still unanswered of this round. */
  | { readonly kind: 'ask'; readonly prompt: UserPrompt; readonly logo: string | undefined }
  | { readonly kind: 'refuse' };

/**
 * The routing policy applied to the answers so far (pure; routing-policy.ts describes the format):
 * the first route with a `when` that holds decides; else the first round with an unanswered
 * parameter is asked; else the first route without `when`; else refused.
 */
export function decideRoute(policy: RoutingPolicy, answers: Readonly<Record<string, string>>): RoutingDecision {
  for (const route of policy.routes) {
    if (!route.when || !Object.entries(route.when).every(([k, v]) => conditionHolds(k, v, answers))) continue;
    return 'federate' in route ? { kind: 'federate', issuer: route.federate } : { kind: 'local' };
  }
  for (const round of policy.rounds) {
    const prompt = unanswered(round, answers);
    if (prompt) return { kind: 'ask', prompt, logo: round.logo };
  }
  const fallback = policy.routes.find((r) => !r.when);
  if (!fallback) return { kind: 'refuse' };
  return 'federate' in fallback ? { kind: 'federate', issuer: fallback.federate } : { kind: 'local' };
}

function conditionHolds(key: string, expected: string, answers: Readonly<Record<string, string>>): boolean {
  if (key in DERIVED_CONDITIONS) {
    const email = answers[DERIVED_CONDITIONS[key as keyof typeof DERIVED_CONDITIONS]];
    return email !== undefined && email.slice(email.lastIndexOf('@') + 1).toLowerCase() === expected.toLowerCase();
  }
  return answers[key] === expected;
}

/** The part of a round not answered yet, as FED-6's `userPrompt`; free-text inputs only `email` and `phone` (FED-7), whatever was stored. */
function unanswered(round: RoutingRound, answers: Readonly<Record<string, string>>): UserPrompt | undefined {
  const options = Object.fromEntries(Object.entries(round.options ?? {}).filter(([name]) => answers[name] === undefined));
  const inputs = Object.fromEntries(Object.entries(round.inputs ?? {}).filter(([name]) => (FREE_TEXT_INPUTS as readonly string[]).includes(name) && answers[name] === undefined));
  if (Object.keys(options).length === 0 && Object.keys(inputs).length === 0) return undefined;
  return { ...(Object.keys(options).length > 0 ? { options } : {}), ...(Object.keys(inputs).length > 0 ? { inputs } : {}) };
}

/**
 * FED-6: the answers the client posted (form parameters with auth_session), for parameters the
 * policy asks: an option's value must be one it lists, an e-mail or phone must be one (normalised
 * as the suite stores them). Anything else in the request is not an answer. Returns only new answers.
 */
export function readAnswers(policy: RoutingPolicy, input: ChallengeInput): Record<string, string> {
  const out: Record<string, string> = {};
  for (const round of policy.rounds) {
    for (const [name, option] of Object.entries(round.options ?? {})) {
      const v = input[name];
      if (v === undefined) continue;
      if (typeof v !== 'string' || !Object.prototype.hasOwnProperty.call(option.values, v)) throw new OAuthError('invalid_request', `${name} must be one of the values offered`);
      out[name] = v;
    }
    for (const name of Object.keys(round.inputs ?? {})) {
      const v = input[name];
      if (v === undefined) continue;
      const normalized = typeof v === 'string' ? (name === 'email' ? normalizeEmail(v) : name === 'phone' ? normalizePhone(v) : undefined) : undefined;
      if (!normalized) throw new OAuthError('invalid_request', `${name} is not a valid ${name === 'email' ? 'e-mail address' : 'phone number'}`);
      out[name] = normalized;
    }
  }
  return out;
}
