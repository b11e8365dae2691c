import { OAuthError } from '@fpa/oauth-core';

export const ACR = {
  /** Any one authentication. */
  oneFactor: 'urn:first-party-auth:acr:1fa',
  /** A verified email address. */
  email: 'urn:first-party-auth:acr:email',
  /** A verified phone number. */
  phone: 'urn:first-party-auth:acr:phone',
  /** Two independent factors, or one multi-factor authenticator (a passkey that verified the user). */
  mfa: 'urn:first-party-auth:acr:mfa',
  /** Phishing-resistant: a passkey. */
  phr: 'urn:first-party-auth:acr:phr',
  /** A verifiable credential presented from a wallet with key binding (issue 11): events whose amr shows `vc`. */
  vc: 'urn:first-party-auth:acr:vc',
} as const;

/**
 * What an acr requires, over what the authentications proved — never over method names alone
 * (issue 7 finding 3). Every listed condition must hold for one set of fresh, counted events.
 */
export interface AcrRule {
  /** Independent factors (distinct factor classes; a multi-factor authenticator counts 2). */
  readonly factors?: number;
  /** At least one phishing-resistant authentication. */
  readonly phishingResistant?: boolean;
  /** These identifiers verified. */
  readonly verified?: readonly ('email' | 'phone')[];
  /** One of these method sets, each method by an event of its own (issue 3's policy shape). */
  readonly methods?: readonly (readonly string[])[];
  /** RFC 8176 values the events show together. */
  readonly amr?: readonly string[];
}

/** Account recovery (a lost passkey): a separate, explicit, audited path with its own policy. */
export interface RecoveryPolicy {
  readonly enabled: boolean;
  /** What must be fresh before a replacement credential may be enrolled; `identifiers`: every identifier the account has verified. */
  readonly requires: AcrRule | 'identifiers';
  /** A recovered credential proves nothing beyond its recovery basis for this long. */
  readonly holdSeconds: number;
}

export interface AcrPolicy {
  /** Methods this client may use here (natively, or in the browser), in the order they are offered. */
  readonly methods: readonly string[];
  /** The acr asked for when the request names none. */
  readonly defaultAcr: string;
  readonly acr: ReadonlyMap<string, AcrRule>;
  readonly recovery: RecoveryPolicy;
}

export const DEFAULT_ACR_RULES: ReadonlyMap<string, AcrRule> = new Map<string, AcrRule>([
  [ACR.oneFactor, { factors: 1 }],
  [ACR.email, { verified: ['email'] }],
  [ACR.phone, { verified: ['phone'] }],
  [ACR.mfa, { factors: 2 }],
  [ACR.phr, { phishingResistant: true }],
  [ACR.vc, { amr: ['vc'] }],
]);

export const DEFAULT_RECOVERY: RecoveryPolicy = { enabled: true, requires: 'identifiers', holdSeconds: 86_400 };

/** Limits that keep a rule checkable (and the search for the events that satisfy it small). */
const MAX_FACTORS = 3;
const MAX_SET = 4;

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 64);

/** Shape check for a client's `challenge_policy` (JSON, snake_case). Empty when fine. */
export function acrPolicyProblems(input: unknown): string[] {
  if (input === undefined || input === null) return [];
  if (!isObject(input)) return ['challenge_policy must be an object'];
  const problems: string[] = [];
  for (const k of Object.keys(input)) if (!['methods', 'web_methods', 'default_acr', 'acr', 'recovery'].includes(k)) problems.push(`challenge_policy.${k} is unknown`);
  if (input.methods !== undefined && !isStringList(input.methods)) problems.push('challenge_policy.methods must be a list of method ids');
  if (input.web_methods !== undefined && !isStringList(input.web_methods)) problems.push('challenge_policy.web_methods must be a list of method ids');
  if (input.default_acr !== undefined && (typeof input.default_acr !== 'string' || input.default_acr.length === 0)) problems.push('challenge_policy.default_acr must be a string');
  if (input.acr !== undefined) {
    if (!isObject(input.acr)) problems.push('challenge_policy.acr must map acr values to rules');
    else for (const [acr, rule] of Object.entries(input.acr)) problems.push(...ruleProblems(rule, `challenge_policy.acr["${acr}"]`));
  }
  if (input.recovery !== undefined) {
    const r = input.recovery;
    if (!isObject(r)) problems.push('challenge_policy.recovery must be an object');
    else {
      for (const k of Object.keys(r)) if (!['enabled', 'requires', 'hold_seconds'].includes(k)) problems.push(`challenge_policy.recovery.${k} is unknown`);
      if (r.enabled !== undefined && typeof r.enabled !== 'boolean') problems.push('challenge_policy.recovery.enabled must be a boolean');
      if (r.hold_seconds !== undefined && !(Number.isInteger(r.hold_seconds) && (r.hold_seconds as number) >= 0 && (r.hold_seconds as number) <= 30 * 86_400)) {
        problems.push('challenge_policy.recovery.hold_seconds must be an integer from 0 to 2592000');
      }
      if (r.requires !== undefined && r.requires !== 'identifiers') problems.push(...ruleProblems(r.requires, 'challenge_policy.recovery.requires'));
    }
  }
  return problems;
}

function ruleProblems(rule: unknown, where: string): string[] {
  // Issue 3's shape: a non-empty list of method sets.
  if (Array.isArray(rule)) return rule.length > 0 && rule.every((s) => isStringList(s) && s.length > 0 && s.length <= MAX_SET) ? [] : [`${where} must be a non-empty list of method sets (at most ${MAX_SET} methods each)`];
  if (!isObject(rule)) return [`${where} must be a rule object or a list of method sets`];
  const problems: string[] = [];
  for (const k of Object.keys(rule)) if (!['factors', 'phishing_resistant', 'verified', 'methods', 'amr'].includes(k)) problems.push(`${where}.${k} is unknown`);
  if (Object.keys(rule).length === 0) problems.push(`${where} must require something`);
  if (rule.factors !== undefined && !(Number.isInteger(rule.factors) && (rule.factors as number) >= 1 && (rule.factors as number) <= MAX_FACTORS)) problems.push(`${where}.factors must be 1 to ${MAX_FACTORS}`);
  if (rule.phishing_resistant !== undefined && typeof rule.phishing_resistant !== 'boolean') problems.push(`${where}.phishing_resistant must be a boolean`);
  if (rule.verified !== undefined && !(Array.isArray(rule.verified) && rule.verified.every((v) => v === 'email' || v === 'phone'))) problems.push(`${where}.verified must list email and/or phone`);
  if (rule.methods !== undefined) problems.push(...ruleProblems(rule.methods, `${where}.methods`).map((p) => p.replace(' or a list of method sets', '')));
  if (rule.amr !== undefined && !isStringList(rule.amr)) problems.push(`${where}.amr must be a list of RFC 8176 values`);
  return problems;
}

function toRule(raw: unknown): AcrRule {
  if (Array.isArray(raw)) return { methods: raw as string[][] };
  const r = raw as Raw;
  return {
    ...(r.factors !== undefined ? { factors: r.factors as number } : {}),
    ...(r.phishing_resistant === true ? { phishingResistant: true } : {}),
    ...(r.verified !== undefined ? { verified: r.verified as ('email' | 'phone')[] } : {}),
    ...(r.methods !== undefined ? { methods: r.methods as string[][] } : {}),
    ...(r.amr !== undefined ? { amr: r.amr as string[] } : {}),
  };
}

/**
 * A client's `challenge_policy` over the defaults: its `acr` entries replace or add rules, its
 * `methods` narrow what is offered — natively; in the browser `web_methods` when given (an app that
 * cannot run a passkey ceremony itself sends such requests to the browser: FIPA-21). `enabled` is every registered and enabled method, in
 * registration order (ChallengeModule.forRoot's list — the one place a module registers).
 * `federated` (FED-16): the callers are not first-party (the end user's app of a federating server):
 * only `methods` listed explicitly, none when the policy lists none, and no recovery.
 * A policy that fails `acrPolicyProblems` was refused when the client was saved; here it is
 * refused again rather than half-applied.
 */
export function acrPolicyFor(clientPolicy: unknown, enabled: readonly string[], defaults: { recoveryHoldSeconds?: number; browser?: boolean; federated?: boolean } = {}): AcrPolicy {
  const problems = acrPolicyProblems(clientPolicy);
  if (problems.length > 0) throw new OAuthError('server_error', undefined, { reason: `client challenge_policy is invalid: ${problems.join('; ')}` });
  const p = (clientPolicy ?? {}) as Raw;
  const acr = new Map(DEFAULT_ACR_RULES);
  for (const [name, rule] of Object.entries((p.acr as Raw | undefined) ?? {})) acr.set(name, toRule(rule));
  const listed = ((defaults.browser ? p.web_methods : undefined) ?? p.methods) as string[] | undefined;
  // FED-16: a federating client's callers are not first-party — only the methods its policy lists
  // explicitly (none by default: FiPA then sends the request to the browser), and never recovery.
  const methods = listed ? listed.filter((m) => enabled.includes(m)) : defaults.federated ? [] : [...enabled];
  const r = (p.recovery as Raw | undefined) ?? {};
  const recovery: RecoveryPolicy = {
    enabled: defaults.federated ? false : ((r.enabled as boolean | undefined) ?? DEFAULT_RECOVERY.enabled),
    requires: r.requires === undefined || r.requires === 'identifiers' ? 'identifiers' : toRule(r.requires),
    holdSeconds: (r.hold_seconds as number | undefined) ?? defaults.recoveryHoldSeconds ?? DEFAULT_RECOVERY.holdSeconds,
  };
  return { methods, defaultAcr: (p.default_acr as string | undefined) ?? ACR.oneFactor, acr, recovery };
}

/** Parses `acr_values` (space-separated, in preference order, FIPA-13); unknown values are refused. */
export function requestedAcrs(policy: AcrPolicy, acrValues: string | undefined): string[] {
  const values = (acrValues ?? '').split(' ').filter(Boolean);
  if (values.length === 0) return [policy.defaultAcr];
  // A Map, never `in` on an object: `constructor` or `__proto__` are not acr values (finding 6).
  const unknown = values.filter((v) => !policy.acr.has(v));
  if (unknown.length > 0) throw new OAuthError('invalid_request', `unsupported acr_values: ${unknown.slice(0, 5).join(' ').slice(0, 200)}`);
  return [...new Set(values)];
}
