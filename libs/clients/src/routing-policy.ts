/**
 * A client's `routing_policy` (issue 10): where its users authenticate — here, with today's
 * challenge methods, or at a downstream server the suite federates to (FED-5, FED-11) — decided
 * from non-authentication answers the user gives through `insufficient_information` (FED-6/7).
 * Data per client, like `challenge_policy`; checked when the definition is saved.
 *
 * ```json
 * {
 *   "rounds": [
 *     { "logo": "https://…", "options": { "bank": { "title": "Your bank", "values": { "bank-a": { "name": "Bank A" }, "other": { "name": "Another bank" } } } } },
 *     { "inputs": { "email": { "title": "Your e-mail", "hint": "name@bank.example" } } }
 *   ],
 *   "routes": [
 *     { "when": { "bank": "bank-a" }, "federate": "https://as.bank-a.example" },
 *     { "when": { "email_domain": "bank-b.example" }, "federate": "https://as.bank-b.example" },
 *     { "local": true }
 *   ]
 * }
 * ```
 * Routes with a `when` are tried in order; the first whose conditions all hold for the answers so
 * far decides. When none does, the first round with an unanswered parameter is asked (a second
 * `insufficient_information` round when the first answer was not enough). With nothing left to
 * ask, the first route without `when` decides; without one, the flow is refused.
 */
export interface RoutingPolicy {
  readonly rounds: readonly RoutingRound[];
  readonly routes: readonly RoutingRoute[];
}

export interface RoutingRound {
  readonly logo?: string;
  readonly options?: Readonly<Record<string, { readonly title: string; readonly description?: string; readonly values: Readonly<Record<string, { readonly name: string; readonly logo?: string }>> }>>;
  /** FED-7: free-text inputs are `email` and `phone` only — never a credential. */
  readonly inputs?: Readonly<Partial<Record<FreeTextInput, { readonly title: string; readonly hint?: string; readonly description?: string }>>>;
}

export type RoutingTarget = { readonly local: true } | { readonly federate: string };
export type RoutingRoute = { readonly when?: Readonly<Record<string, string>> } & RoutingTarget;

/** FED-7 (Apr 2026 editor's copy): the only free-text inputs the mechanism may ask for. */
export const FREE_TEXT_INPUTS = ['email', 'phone'] as const;
export type FreeTextInput = (typeof FREE_TEXT_INPUTS)[number];

/** Condition keys that are not option names: derived from an input. */
export const DERIVED_CONDITIONS = { email_domain: 'email' } as const;

/** Parameters the native endpoint already gives a meaning: an option may not take their name. */
const RESERVED = new Set(['auth_session', 'client_id', 'response_type', 'scope', 'acr_values', 'code', 'code_challenge', 'code_challenge_method', 'challenge_type', 'action', 'credential', 'request_uri', 'login_hint', 'max_age', 'resource', 'authorization_details', 'redirect_uri', 'state', 'nonce', 'prompt']);
const NAME = /^[a-z][a-z0-9_]{0,63}$/;
const VALUE = /^[A-Za-z0-9._:-]{1,64}$/;
const TEXT_MAX = 200;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function httpsUrl(v: unknown): boolean {
  if (typeof v !== 'string' || v.length > 2048) return false;
  try {
    const u = new URL(v);
    return u.protocol === 'https:' && !u.hash;
  } catch {
    return false;
  }
}

function text(v: unknown): boolean {
  return typeof v === 'string' && v.length > 0 && v.length <= TEXT_MAX;
}

/** What is wrong with a `routing_policy` (empty: nothing); `undefined`/`null` is the default (local only). */
export function routingPolicyProblems(input: unknown): string[] {
  if (input === undefined || input === null) return [];
  const p: string[] = [];
  if (!isObject(input)) return ['routing_policy must be an object'];
  for (const k of Object.keys(input)) if (!['rounds', 'routes'].includes(k)) p.push(`routing_policy: unknown member ${k}`);
  const rounds = input.rounds ?? [];
  const routes = input.routes;
  if (!Array.isArray(rounds)) p.push('routing_policy.rounds must be an array');
  if (!Array.isArray(routes) || routes.length === 0) p.push('routing_policy.routes must be a non-empty array');
  const optionValues = new Map<string, Set<string>>();
  const inputs = new Set<string>();
  (Array.isArray(rounds) ? rounds : []).forEach((round: unknown, i) => {
    const at = `routing_policy.rounds[${i}]`;
    if (!isObject(round)) return void p.push(`${at} must be an object`);
    for (const k of Object.keys(round)) if (!['logo', 'options', 'inputs'].includes(k)) p.push(`${at}: unknown member ${k}`);
    if (round.logo !== undefined && !httpsUrl(round.logo)) p.push(`${at}.logo must be an https URL`);
    if (round.options === undefined && round.inputs === undefined) p.push(`${at} asks nothing (options or inputs)`);
    if (round.options !== undefined) {
      if (!isObject(round.options)) p.push(`${at}.options must be an object`);
      else
        for (const [name, option] of Object.entries(round.options)) {
          if (!NAME.test(name) || RESERVED.has(name) || (FREE_TEXT_INPUTS as readonly string[]).includes(name) || name in DERIVED_CONDITIONS) p.push(`${at}.options: ${JSON.stringify(name).slice(0, 70)} is not a usable parameter name`);
          if (optionValues.has(name)) p.push(`${at}.options: ${name} is asked twice`);
          if (!isObject(option) || !text(option.title) || (option.description !== undefined && !text(option.description)) || !isObject(option.values)) {
            p.push(`${at}.options.${name} needs a title, an optional description and values`);
            continue;
          }
          for (const k of Object.keys(option)) if (!['title', 'description', 'values'].includes(k)) p.push(`${at}.options.${name}: unknown member ${k}`);
          const values = Object.entries(option.values);
          if (values.length === 0 || values.length > 100) p.push(`${at}.options.${name}.values must list 1 to 100 values`);
          for (const [value, shown] of values) {
            if (!VALUE.test(value)) p.push(`${at}.options.${name}.values: ${JSON.stringify(value).slice(0, 70)} is not a usable value`);
            if (!isObject(shown) || !text(shown.name) || (shown.logo !== undefined && !httpsUrl(shown.logo)) || Object.keys(shown).some((k) => k !== 'name' && k !== 'logo')) {
              p.push(`${at}.options.${name}.values.${value} needs a name and an optional https logo`);
            }
          }
          optionValues.set(name, new Set(values.map(([v]) => v)));
        }
    }
    if (round.inputs !== undefined) {
      if (!isObject(round.inputs)) p.push(`${at}.inputs must be an object`);
      else
        for (const [name, field] of Object.entries(round.inputs)) {
          // FED-7: never extended to other free text (passwords, OTPs …).
          if (!(FREE_TEXT_INPUTS as readonly string[]).includes(name)) p.push(`${at}.inputs: only email and phone may be asked for (FED-7), not ${JSON.stringify(name).slice(0, 70)}`);
          else if (inputs.has(name)) p.push(`${at}.inputs: ${name} is asked twice`);
          inputs.add(name);
          if (!isObject(field) || !text(field.title) || (field.hint !== undefined && !text(field.hint)) || (field.description !== undefined && !text(field.description)) || Object.keys(field).some((k) => !['title', 'hint', 'description'].includes(k))) {
            p.push(`${at}.inputs.${name} needs a title and an optional hint and description`);
          }
        }
    }
  });
  (Array.isArray(routes) ? routes : []).forEach((route: unknown, i) => {
    const at = `routing_policy.routes[${i}]`;
    if (!isObject(route)) return void p.push(`${at} must be an object`);
    const targets = ['local', 'federate'].filter((k) => route[k] !== undefined);
    if (targets.length !== 1) p.push(`${at} needs exactly one of local, federate`);
    for (const k of Object.keys(route)) if (!['when', 'local', 'federate'].includes(k)) p.push(`${at}: unknown member ${k}`);
    if (route.local !== undefined && route.local !== true) p.push(`${at}.local must be true`);
    if (route.federate !== undefined && !httpsOrLoopbackUrl(route.federate)) p.push(`${at}.federate must be a downstream issuer URL`);
    if (route.when !== undefined) {
      if (!isObject(route.when)) return void p.push(`${at}.when must be an object`);
      for (const [key, value] of Object.entries(route.when)) {
        if (typeof value !== 'string' || value.length === 0 || value.length > 253) p.push(`${at}.when.${key} must be a string`);
        else if (key === 'email_domain') {
          if (!inputs.has('email')) p.push(`${at}.when.email_domain needs a round that asks for email`);
        } else if (!optionValues.has(key)) p.push(`${at}.when: ${JSON.stringify(key).slice(0, 70)} is no option of a round`);
        else if (!optionValues.get(key)?.has(value)) p.push(`${at}.when.${key}: ${JSON.stringify(value).slice(0, 70)} is not one of its values`);
      }
    }
  });
  return p;
}

function httpsOrLoopbackUrl(v: unknown): boolean {
  if (httpsUrl(v)) return true;
  if (typeof v !== 'string') return false;
  try {
    const u = new URL(v);
    return u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname) && !u.hash;
  } catch {
    return false;
  }
}

/** The policy of a client (validated when saved); null = local authentication only. */
export function routingPolicyOf(client: { readonly routingPolicy: Readonly<Record<string, unknown>> | null }): RoutingPolicy | null {
  const raw = client.routingPolicy;
  if (!raw) return null;
  return { rounds: (raw.rounds as RoutingRound[] | undefined) ?? [], routes: raw.routes as RoutingRoute[] };
}
