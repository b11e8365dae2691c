import { randomBytes } from 'node:crypto';
import { parse } from 'yaml';
import { ENV_VARS, isKnownEnvVar, type AppName } from '@fpa/config';
import { COMPOSE_FILE, ENV_EXAMPLE, read } from './files';

/**
 * docker-compose.yml and its example env file: the services, compose's `${…}` interpolation, the
 * `.env` a user would write, and the checks that hold them against the config table (env-vars.ts).
 */

/** The suite's services in docker-compose.yml → the app each runs (= its Dockerfile target). */
export const SUITE_SERVICES: Record<string, AppName> = {
  registration: 'registration',
  token: 'token',
  challenge: 'challenge',
  federation: 'federation',
  migrate: 'cli',
};
export const HTTP_APPS = ['registration', 'token', 'challenge', 'federation'];
/** Third-party images: their variables (POSTGRES_*, MP_*, …) are theirs, not the suite's. */
const THIRD_PARTY_SERVICES = ['postgres', 'redis', 'mailpit', 'ingress'];
/** One-shot services: no health check; dependants wait for service_completed_successfully. */
export const ONE_SHOT = ['migrate'];
/** Variables of the example env file that only feed docker-compose.yml's ${…}, not an app by name. */
const COMPOSE_ONLY_VARS: Record<string, string> = {
  POSTGRES_PASSWORD: 'the postgres service and every DATABASE_URL',
  FPA_PORT: 'the port the ingress publishes',
};

export type Obj = Record<string, unknown>;
export interface Compose {
  services: Record<string, Obj>;
}

export function loadCompose(text = read(COMPOSE_FILE)): Compose {
  // Compose honours YAML merge keys (`<<: *anchor`); so does this parse.
  return parse(text, { merge: true }) as Compose;
}

/** `environment:` as a map (compose accepts a map or a list of `NAME=value`). */
export function environmentOf(service: Obj): Record<string, string> {
  const env = service.environment;
  if (env === undefined || env === null) return {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const s = String(entry);
        const i = s.indexOf('=');
        return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(env as Obj).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

export interface ExampleVar {
  readonly value: string;
  /** `#NAME=value`: documented, optional, off by default. */
  readonly commented: boolean;
}

/** `NAME=value` lines of the example env file, and `#NAME=value` ones (optional settings). */
export function parseEnvExample(text = read(ENV_EXAMPLE)): Map<string, ExampleVar> {
  const vars = new Map<string, ExampleVar>();
  for (const line of text.split('\n')) {
    const m = /^\s*(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) vars.set(m[2], { value: m[3].trim(), commented: m[1] !== undefined });
  }
  return vars;
}

export interface Reference {
  readonly name: string;
  readonly required: boolean;
  readonly hasDefault: boolean;
}

const REFERENCE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^}])*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/** Every `${NAME…}` / `$NAME` in the file (not in comments), as compose interpolates them. */
export function interpolationReferences(text = read(COMPOSE_FILE)): Reference[] {
  const refs: Reference[] = [];
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    for (const m of line.matchAll(REFERENCE)) {
      if (m[0] === '$$') continue;
      const name = m[1] ?? m[4];
      refs.push({ name, required: m[2]?.endsWith('?') ?? false, hasDefault: m[2]?.endsWith('-') ?? false });
    }
  }
  return refs;
}

/** Compose's interpolation: `${X}`, `${X:-default}`, `${X-default}`, `${X:?error}`, `${X?error}`, `$X`, `$$`. */
function interpolate(value: string, vars: Readonly<Record<string, string | undefined>>): string {
  return value.replace(REFERENCE, (whole, braced: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
    if (whole === '$$') return '$';
    const name = (braced ?? bare)!;
    const v = vars[name];
    const unset = v === undefined;
    const empty = unset || v === '';
    switch (op) {
      case ':-':
        return empty ? (arg ?? '') : v!;
      case '-':
        return unset ? (arg ?? '') : v!;
      case ':?':
        if (empty) throw new Error(`${name}: ${arg}`);
        return v!;
      case '?':
        if (unset) throw new Error(`${name}: ${arg}`);
        return v!;
      default:
        return v ?? '';
    }
  });
}

/**
 * The values a user's `.env` would hold: the example's active lines, the three generated secrets
 * where the example leaves them empty, and with `allOptional` the commented optional settings too.
 */
export function dotEnvFromExample(example: Map<string, ExampleVar>, allOptional: boolean): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [name, { value, commented }] of example) {
    if (commented && !allOptional) continue;
    vars[name] = value === '' && !commented ? randomBytes(32).toString('base64url') : value;
  }
  return vars;
}

/** The compose file with every `${…}` resolved against `vars` (what `docker compose config` shows). */
export function resolvedCompose(vars: Record<string, string>, text = read(COMPOSE_FILE)): Compose {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return interpolate(v, vars);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(loadCompose(text)) as Compose;
}

export function checkServiceSet(compose: Compose): string[] {
  const known = [...Object.keys(SUITE_SERVICES), ...THIRD_PARTY_SERVICES];
  const names = Object.keys(compose.services ?? {});
  return [
    ...names.filter((n) => !known.includes(n)).map((n) => `service ${n} is neither a suite service nor a known third-party one (classify it in this test)`),
    ...known.filter((n) => !names.includes(n)).map((n) => `service ${n} is missing`),
  ];
}

/** Config drift: a suite service sets only variables of ENV_VARS, all of them in `environment:`. */
export function checkVariableNames(compose: Compose): string[] {
  const problems: string[] = [];
  for (const name of Object.keys(SUITE_SERVICES)) {
    const service = compose.services[name];
    if (!service) continue;
    if (service.env_file !== undefined) problems.push(`${name}: env_file would pass variables unchecked; list them under environment:`);
    for (const key of Object.keys(environmentOf(service))) {
      if (!isKnownEnvVar(key)) problems.push(`${name}: ${key} is not a variable of libs/config/src/env-vars.ts`);
    }
  }
  return problems;
}

/** The example env file: known names only, each one used by the compose file, no secret value in it. */
export function checkEnvExample(compose: Compose, example: Map<string, ExampleVar>, refs: Reference[]): string[] {
  const problems: string[] = [];
  const referenced = new Set(refs.map((r) => r.name));
  for (const [name, { value, commented }] of example) {
    if (!isKnownEnvVar(name) && !(name in COMPOSE_ONLY_VARS)) problems.push(`${ENV_EXAMPLE}: ${name} is neither a suite variable (env-vars.ts) nor a compose-level one`);
    if (!referenced.has(name)) problems.push(`${ENV_EXAMPLE}: ${name} is not used by ${COMPOSE_FILE} (it would reach no service)`);
    const secret = name === 'POSTGRES_PASSWORD' || (isKnownEnvVar(name) && (ENV_VARS[name] as { secret?: boolean }).secret === true);
    if (secret && !commented && value !== '') problems.push(`${ENV_EXAMPLE}: ${name} holds a value; secrets are generated by the user, never committed`);
  }
  for (const ref of refs) {
    if (!example.has(ref.name)) problems.push(`${COMPOSE_FILE}: \${${ref.name}} is not documented in ${ENV_EXAMPLE}`);
    if (ref.required && example.get(ref.name)?.commented !== false) problems.push(`${COMPOSE_FILE}: required \${${ref.name}} must be an active line of ${ENV_EXAMPLE}`);
    if (!ref.required && !ref.hasDefault) problems.push(`${COMPOSE_FILE}: \${${ref.name}} needs a default (:-) or to be required (:?)`);
  }
  for (const name of Object.keys(SUITE_SERVICES)) {
    const env = environmentOf(compose.services[name] ?? {});
    for (const [key, raw] of Object.entries(env)) {
      if (!isKnownEnvVar(key) || (ENV_VARS[key] as { secret?: boolean }).secret !== true || raw.includes('${')) continue;
      if (hasCredentials(raw)) problems.push(`${name}: ${key} carries a committed credential; take it from .env`);
      else if (!/^[a-z][a-z0-9+.-]*:\/\//.test(raw) && raw !== '') problems.push(`${name}: secret ${key} is written in ${COMPOSE_FILE}; take it from .env`);
    }
  }
  return problems;
}

function hasCredentials(value: string): boolean {
  try {
    return new URL(value).password !== '';
  } catch {
    return false;
  }
}
