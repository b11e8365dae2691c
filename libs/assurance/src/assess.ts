import type { AcrPolicy, AcrRule } from './acr-policy';
import { freshEvents, type AuthEvent, type MethodProfile } from './events';

/** The authentication(s) that satisfied an acr, and what tokens say about them (RFC 9470, OIDC Core §2). */
export interface Satisfaction {
  readonly acr: string;
  /** The RFC 8176 values of exactly these events (plus `mfa` when they are two or more factors). */
  readonly amr: readonly string[];
  /** The oldest of these events (epoch ms): every one of them is at least this recent. */
  readonly authTimeMs: number;
  readonly events: readonly AuthEvent[];
}

export interface Assessment {
  /** The first requested acr (preference order) the fresh events satisfy. */
  readonly satisfied: Satisfaction | undefined;
  /** Methods that could still complete a requested acr, in the policy's order. */
  readonly open: readonly string[];
}

export interface AssessInput {
  readonly policy: AcrPolicy;
  /** From `requestedAcrs`, in preference order. */
  readonly requested: readonly string[];
  /** The session's authentication events, in any order. */
  readonly events: readonly AuthEvent[];
  readonly nowMs: number;
  /** OIDC / RFC 9470 `max_age`: only events this recent count… */
  readonly maxAgeSeconds?: number;
  /** …or made since the request began (epoch ms). */
  readonly requestedAtMs?: number;
  /** What each enabled method proves at best (to tell which ones can still help). */
  readonly methods: readonly MethodProfile[];
}

/**
 * The one place that computes assurance (STYLE.md). Pure: no clock, no store. Only counted events
 * within `max_age` take part; an acr is met by one set of them, and `acr`, `amr` and `auth_time`
 * all describe that same set (issue 7 finding 4) — never a union of unrelated events.
 */
export function assess(input: AssessInput): Assessment {
  const fresh = freshEvents(input.events, input.nowMs, input.maxAgeSeconds, input.requestedAtMs);
  const candidates = distinct(fresh);
  for (const acr of input.requested) {
    const rule = input.policy.acr.get(acr);
    if (!rule) continue;
    const chosen = smallestFreshestSet(rule, candidates);
    if (chosen) return { satisfied: { acr, amr: amrOf(chosen), authTimeMs: Math.min(...chosen.map((e) => e.atMs)), events: chosen }, open: [] };
  }
  const profiles = input.methods.filter((m) => input.policy.methods.includes(m.id));
  const open = new Set<string>();
  for (const acr of input.requested) {
    const rule = input.policy.acr.get(acr);
    if (rule) for (const id of helpfulMethods(rule, candidates, profiles, input.nowMs)) open.add(id);
  }
  return { satisfied: undefined, open: input.policy.methods.filter((m) => open.has(m)) };
}

/** Does this set of events meet the rule? Every condition is monotone: more events never hurt. */
export function meets(rule: AcrRule, events: readonly AuthEvent[]): boolean {
  if (events.length === 0) return false;
  if (rule.factors !== undefined && factorCount(events) < rule.factors) return false;
  if (rule.phishingResistant && !events.some((e) => e.phishingResistant)) return false;
  for (const v of rule.verified ?? []) if (!events.some((e) => e.verifies === v)) return false;
  if (rule.methods && !rule.methods.some((set) => set.every((m) => events.some((e) => e.method === m)))) return false;
  if (rule.amr) {
    const shown = new Set(events.flatMap((e) => e.amr));
    if (!rule.amr.every((a) => shown.has(a))) return false;
  }
  return true;
}

/** Distinct factor classes, a multi-factor authenticator counting two. */
export function factorCount(events: readonly AuthEvent[]): number {
  const byClass = new Map<string, number>();
  for (const e of events) byClass.set(e.factor, Math.max(byClass.get(e.factor) ?? 0, e.factors));
  let n = 0;
  for (const f of byClass.values()) n += f;
  return n;
}

function amrOf(events: readonly AuthEvent[]): string[] {
  // RFC 8176 `mfa` exactly when these very events are more than one factor.
  const inOrder = [...events].sort((a, b) => a.atMs - b.atMs);
  const amr = [...new Set(inOrder.flatMap((e) => e.amr))].filter((a) => a !== 'mfa');
  return factorCount(events) >= 2 ? [...amr, 'mfa'] : amr;
}

/**
 * One event per kind of proof (the newest), so the search below stays small: two e-mail codes or
 * two assertions with the same passkey flags add nothing one of them does not.
 */
function distinct(events: readonly AuthEvent[]): AuthEvent[] {
  const newest = new Map<string, AuthEvent>();
  for (const e of events) {
    const key = JSON.stringify([e.method, e.factor, e.factors, e.phishingResistant, e.verifies ?? null, [...e.amr].sort()]);
    const seen = newest.get(key);
    if (!seen || e.atMs > seen.atMs) newest.set(key, e);
  }
  return [...newest.values()].sort((a, b) => b.atMs - a.atMs);
}

/**
 * The smallest set of events that meets the rule; among sets of that size the freshest (its oldest
 * event as recent as possible), so `auth_time` is as late as the facts allow.
 */
function smallestFreshestSet(rule: AcrRule, candidates: readonly AuthEvent[]): AuthEvent[] | undefined {
  if (!meets(rule, candidates)) return undefined;
  for (let size = 1; size <= candidates.length; size++) {
    let best: AuthEvent[] | undefined;
    let bestOldest = -Infinity;
    for (const set of combinations(candidates, size)) {
      if (!meets(rule, set)) continue;
      const oldest = Math.min(...set.map((e) => e.atMs));
      if (oldest > bestOldest) {
        best = set;
        bestOldest = oldest;
      }
    }
    if (best) return best;
  }
  return undefined;
}

/**
 * Methods that belong to some minimal way of completing the rule from here: a method is helpful
 * when adding its best-case event to what is already proven is part of a smallest addition that
 * meets the rule (e-mail does not help towards `phr`; after an e-mail code, TOTP helps towards `mfa`).
 */
function helpfulMethods(rule: AcrRule, proven: readonly AuthEvent[], profiles: readonly MethodProfile[], nowMs: number): Set<string> {
  const hypothetical = profiles.map((p) => bestCase(p, nowMs));
  const minimal: AuthEvent[][] = [];
  for (let size = 1; size <= Math.min(3, hypothetical.length); size++) {
    for (const addition of combinations(hypothetical, size)) {
      if (minimal.some((m) => m.every((e) => addition.includes(e)))) continue;
      if (meets(rule, [...proven, ...addition])) minimal.push(addition);
    }
  }
  return new Set(minimal.flat().map((e) => e.method));
}

function bestCase(p: MethodProfile, nowMs: number): AuthEvent {
  return {
    method: p.id,
    amr: [...p.amr, ...(p.multiFactorCapable ? ['mfa'] : [])],
    atMs: nowMs,
    factor: p.factor,
    factors: p.multiFactorCapable ? 2 : 1,
    phishingResistant: p.phishingResistant,
    ...(p.verifies ? { verifies: p.verifies } : {}),
    credentialBound: false,
    counted: true,
  };
}

function* combinations<T>(items: readonly T[], size: number, start = 0, prefix: T[] = []): Generator<T[]> {
  if (prefix.length === size) {
    yield prefix;
    return;
  }
  for (let i = start; i <= items.length - (size - prefix.length); i++) yield* combinations(items, size, i + 1, [...prefix, items[i]]);
}
