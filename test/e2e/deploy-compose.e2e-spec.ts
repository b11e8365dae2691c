import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ENV_VARS, isKnownEnvVar, loadConfig, type AppName } from '@fpa/config';

/**
 * Issue 4's docker deployment, checked without a Docker engine: docker-compose.yml, its example env
 * file, the ingress config and the Dockerfile are parsed and held against the config table
 * (libs/config/src/env-vars.ts), `loadConfig` and CONTRACT §1. A variable the suite does not know,
 * a production requirement left unset, a route to the wrong service or /metrics on the ingress, a
 * root user or an `npm start` in an image all fail here. Each check is a function returning problems;
 * the last block feeds it mutated copies to prove it can fail. Needs no running service.
 */

const ROOT = join(__dirname, '..', '..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

const COMPOSE_FILE = 'docker-compose.yml';
const ENV_EXAMPLE = 'deploy/compose.env.example';
const NGINX_CONF = 'deploy/nginx/nginx.conf';

/** The suite's services in docker-compose.yml → the app each runs (= its Dockerfile target). */
const SUITE_SERVICES: Record<string, AppName> = {
  registration: 'registration',
  token: 'token',
  challenge: 'challenge',
  federation: 'federation',
  migrate: 'cli',
};
const HTTP_APPS = ['registration', 'token', 'challenge', 'federation'];
/** Third-party images: their variables (POSTGRES_*, MP_*, …) are theirs, not the suite's. */
const THIRD_PARTY_SERVICES = ['postgres', 'redis', 'mailpit', 'ingress'];
/** One-shot services: no health check; dependants wait for service_completed_successfully. */
const ONE_SHOT = ['migrate'];
/** Variables of the example env file that only feed docker-compose.yml's ${…}, not an app by name. */
const COMPOSE_ONLY_VARS: Record<string, string> = {
  POSTGRES_PASSWORD: 'the postgres service and every DATABASE_URL',
  FPA_PORT: 'the port the ingress publishes',
};

/** CONTRACT §1: every path of the suite and the service behind it (plus Swagger UI's assets). */
const CONTRACT_ROUTES: ReadonlyArray<readonly [string, string]> = [
  ['/.well-known/oauth-authorization-server', 'token'],
  ['/jwks', 'token'],
  ['/register', 'registration'],
  ['/token', 'token'],
  ['/par', 'token'],
  ['/introspect', 'token'],
  ['/revoke', 'token'],
  ['/authorize-challenge', 'challenge'],
  ['/authorize', 'challenge'],
  ['/authorize/login', 'challenge'],
  ['/authorize/assets/login.js', 'challenge'],
  ['/openapi.json', 'challenge'],
  ['/docs', 'challenge'],
  ['/docs/swagger-ui.css', 'challenge'],
  ['/federation/callback', 'federation'],
  ['/.well-known/openid-federation', 'federation'],
];
/** Internal only: scraped and probed on the service network, never through the ingress. */
const NOT_ROUTED = ['/metrics', '/health/live', '/health/ready'];

// ------------------------------------------------------------------------------------------------
// docker-compose.yml and the example env file
// ------------------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;
interface Compose {
  services: Record<string, Obj>;
}

function loadCompose(text = read(COMPOSE_FILE)): Compose {
  // Compose honours YAML merge keys (`<<: *anchor`); so does this parse.
  return parse(text, { merge: true }) as Compose;
}

/** `environment:` as a map (compose accepts a map or a list of `NAME=value`). */
function environmentOf(service: Obj): Record<string, string> {
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

interface ExampleVar {
  readonly value: string;
  /** `#NAME=value`: documented, optional, off by default. */
  readonly commented: boolean;
}

/** `NAME=value` lines of the example env file, and `#NAME=value` ones (optional settings). */
function parseEnvExample(text = read(ENV_EXAMPLE)): Map<string, ExampleVar> {
  const vars = new Map<string, ExampleVar>();
  for (const line of text.split('\n')) {
    const m = /^\s*(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) vars.set(m[2], { value: m[3].trim(), commented: m[1] !== undefined });
  }
  return vars;
}

interface Reference {
  readonly name: string;
  readonly required: boolean;
  readonly hasDefault: boolean;
}

const REFERENCE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^}])*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/** Every `${NAME…}` / `$NAME` in the file (not in comments), as compose interpolates them. */
function interpolationReferences(text = read(COMPOSE_FILE)): Reference[] {
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
function dotEnvFromExample(example: Map<string, ExampleVar>, allOptional: boolean): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [name, { value, commented }] of example) {
    if (commented && !allOptional) continue;
    vars[name] = value === '' && !commented ? randomBytes(32).toString('base64url') : value;
  }
  return vars;
}

/** The compose file with every `${…}` resolved against `vars` (what `docker compose config` shows). */
function resolvedCompose(vars: Record<string, string>, text = read(COMPOSE_FILE)): Compose {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return interpolate(v, vars);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(loadCompose(text)) as Compose;
}

function checkServiceSet(compose: Compose): string[] {
  const known = [...Object.keys(SUITE_SERVICES), ...THIRD_PARTY_SERVICES];
  const names = Object.keys(compose.services ?? {});
  return [
    ...names.filter((n) => !known.includes(n)).map((n) => `service ${n} is neither a suite service nor a known third-party one (classify it in this test)`),
    ...known.filter((n) => !names.includes(n)).map((n) => `service ${n} is missing`),
  ];
}

/** Config drift: a suite service sets only variables of ENV_VARS, all of them in `environment:`. */
function checkVariableNames(compose: Compose): string[] {
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
function checkEnvExample(compose: Compose, example: Map<string, ExampleVar>, refs: Reference[]): string[] {
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

function check(problems: string[]): void {
  expect(problems).toEqual([]);
}

// ------------------------------------------------------------------------------------------------
// Dockerfile
// ------------------------------------------------------------------------------------------------

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}
interface Stage {
  readonly name: string;
  readonly from: string;
  readonly instructions: Instruction[];
}

function parseDockerfile(text = read('Dockerfile')): { args: Record<string, string>; stages: Stage[] } {
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  const logical = text
    .replace(/\\\r?\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  for (const line of logical) {
    const m = /^(\S+)\s*(.*)$/.exec(line)!;
    const keyword = m[1].toUpperCase();
    const rest = m[2];
    if (keyword === 'FROM') {
      const f = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest)!;
      const from = f[1].replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_w, n: string) => args[n] ?? '');
      stages.push({ name: f[2] ?? String(stages.length), from, instructions: [] });
    } else if (stages.length === 0) {
      if (keyword === 'ARG') {
        const a = /^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/.exec(rest)!;
        args[a[1]] = a[2] ?? '';
      }
    } else {
      stages[stages.length - 1].instructions.push({ keyword, args: rest });
    }
  }
  return { args, stages };
}

/** A stage's instructions with those of the stages it is built FROM, base first. */
function chainOf(stages: Stage[], name: string): Instruction[] {
  const stage = stages.find((s) => s.name === name);
  if (!stage) return [];
  return [...chainOf(stages.slice(0, stages.indexOf(stage)), stage.from), ...stage.instructions];
}

interface Effective {
  user: string | undefined;
  env: Record<string, string>;
  entrypoint: string[] | undefined;
  cmd: string[] | undefined;
  /** Exec form of ENTRYPOINT and CMD (a shell-form one would put /bin/sh at PID 1). */
  execForm: boolean;
  healthcheck: string | undefined;
}

/** The image config a target ends up with (ENTRYPOINT resets an inherited CMD, as Docker does). */
function effective(stages: Stage[], target: string): Effective {
  const e: Effective = { user: undefined, env: {}, entrypoint: undefined, cmd: undefined, execForm: true, healthcheck: undefined };
  for (const i of chainOf(stages, target)) {
    const json = (): string[] | undefined => {
      try {
        const v = JSON.parse(i.args) as unknown;
        return Array.isArray(v) ? v.map(String) : undefined;
      } catch {
        return undefined;
      }
    };
    if (i.keyword === 'USER') e.user = i.args.trim();
    if (i.keyword === 'ENV') {
      const pairs = i.args.match(/[A-Za-z_][A-Za-z0-9_]*=("[^"]*"|'[^']*'|\S*)/g);
      if (pairs) for (const p of pairs) e.env[p.slice(0, p.indexOf('='))] = p.slice(p.indexOf('=') + 1).replace(/^["']|["']$/g, '');
      else {
        const [k, ...v] = i.args.split(/\s+/);
        e.env[k] = v.join(' ');
      }
    }
    if (i.keyword === 'ENTRYPOINT') {
      e.entrypoint = json();
      e.execForm = e.entrypoint !== undefined;
      e.cmd = undefined;
    }
    if (i.keyword === 'CMD') {
      e.cmd = json();
      if (e.cmd === undefined) e.execForm = false;
    }
    if (i.keyword === 'HEALTHCHECK') e.healthcheck = i.args;
  }
  return e;
}

/** The process a container of the target starts, as an argv. */
function processOf(e: Effective): string[] {
  return [...(e.entrypoint ?? []), ...(e.cmd ?? [])];
}

/** `node --max-semi-space-size=32 dist/apps/<app>/src/main.js`, read from package.json's start script. */
function startCommandOf(app: string): string[] {
  const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
  const script = scripts[`start:${app}`];
  const m = /(?:^|&&\s*)(node\s[^&]*)$/.exec(script ?? '');
  if (!m) throw new Error(`package.json has no start:${app} ending in a node command`);
  return m[1].trim().split(/\s+/);
}

const ROOT_USERS = ['', 'root', '0', 'root:root', '0:0'];
function isRootUser(user: string | undefined): boolean {
  return user === undefined || ROOT_USERS.includes(user) || /^(root|0)(:|$)/.test(user);
}

function checkDockerfileTarget(stages: Stage[], target: string, app: string): string[] {
  const problems: string[] = [];
  if (!stages.some((s) => s.name === target)) return [`Dockerfile has no target ${target}`];
  const e = effective(stages, target);
  const argv = processOf(e);
  if (isRootUser(e.user)) problems.push(`${target}: runs as root (USER ${e.user ?? 'unset'})`);
  if (e.env.NODE_ENV !== 'production') problems.push(`${target}: NODE_ENV is not production`);
  if (e.env.APP_MODE !== 'production') problems.push(`${target}: APP_MODE is not production`);
  if (!e.execForm) problems.push(`${target}: ENTRYPOINT/CMD in shell form (node would not be PID 1)`);
  if (argv[0] !== 'node') problems.push(`${target}: the process is not node: ${JSON.stringify(argv)}`);
  if (argv.some((a) => /^(npm|npx|yarn|pnpm|sh|bash|\/bin\/sh)$/.test(a) || /docker-entrypoint/.test(a))) problems.push(`${target}: starts through ${JSON.stringify(argv)}`);
  if (app === 'cli') {
    if (JSON.stringify(argv) !== JSON.stringify(['node', 'dist/apps/cli/src/main.js', 'migration', 'run'])) problems.push(`${target}: default process is ${JSON.stringify(argv)}`);
  } else {
    const expected = startCommandOf(app);
    if (JSON.stringify(argv) !== JSON.stringify(expected)) problems.push(`${target}: starts ${JSON.stringify(argv)}, the start script runs ${JSON.stringify(expected)}`);
    const hc = e.healthcheck ?? '';
    const cmd = /CMD\s+(\[.*\])\s*$/.exec(hc);
    const hcArgv = cmd ? (JSON.parse(cmd[1]) as string[]) : [];
    if (hcArgv[0] !== 'node' || !hcArgv.join(' ').includes('/health/live')) problems.push(`${target}: HEALTHCHECK must be exec-form node asking /health/live, got "${hc}"`);
    if (/curl|wget/.test(hc)) problems.push(`${target}: HEALTHCHECK uses a tool the image does not have`);
  }
  const mainTs = join(ROOT, 'apps', app, 'src', 'main.ts');
  if (!existsSync(mainTs)) problems.push(`${target}: apps/${app}/src/main.ts does not exist`);
  return problems;
}

/** node_modules of the image come from `npm ci --omit=dev`; no dev install, no copy of the build's. */
function checkProductionDependencies(stages: Stage[], target: string): string[] {
  const problems: string[] = [];
  const chain = chainOf(stages, target);
  const copies = chain.filter((i) => i.keyword === 'COPY' && /node_modules/.test(i.args));
  if (copies.length === 0) problems.push(`${target}: no node_modules copied in`);
  for (const c of copies) {
    const from = /--from=(\S+)/.exec(c.args)?.[1];
    const source = from ? chainOf(stages, from) : [];
    const ok = source.some((i) => i.keyword === 'RUN' && /npm ci\b[^&;]*--omit=dev|npm prune\b[^&;]*--omit=dev/.test(i.args));
    if (!ok) problems.push(`${target}: node_modules come from ${from ?? 'the context'}, not a stage that ran npm ci --omit=dev`);
  }
  for (const i of chain.filter((x) => x.keyword === 'RUN')) {
    if (/\bnpm (ci|install|i)\b/.test(i.args) && !/--omit=dev/.test(i.args)) problems.push(`${target}: installs dev dependencies: RUN ${i.args}`);
  }
  if (chain.some((i) => i.keyword === 'COPY' && /^(--\S+\s+)*\.\s+\.?\/?\S*$/.test(i.args) && !/--from=/.test(i.args))) problems.push(`${target}: copies the whole context`);
  return problems;
}

// ------------------------------------------------------------------------------------------------
// nginx
// ------------------------------------------------------------------------------------------------

interface Directive {
  readonly name: string;
  readonly args: string[];
  readonly block?: Directive[];
}

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) i++;
    else if (c === '#') while (i < text.length && text[i] !== '\n') i++;
    else if (c === '{' || c === '}' || c === ';') tokens.push(text[i++]);
    else if (c === '"' || c === "'") {
      let j = i + 1;
      let s = '';
      while (j < text.length && text[j] !== c) {
        if (text[j] === '\\') j++;
        s += text[j++];
      }
      tokens.push(s);
      i = j + 1;
    } else {
      let j = i;
      while (j < text.length && !/[\s{};]/.test(text[j])) j++;
      tokens.push(text.slice(i, j));
      i = j;
    }
  }
  return tokens;
}

function parseNginx(text = read(NGINX_CONF)): Directive[] {
  const tokens = tokenize(text);
  let pos = 0;
  const block = (): Directive[] => {
    const out: Directive[] = [];
    while (pos < tokens.length && tokens[pos] !== '}') {
      const name = tokens[pos++];
      const args: string[] = [];
      while (pos < tokens.length && tokens[pos] !== ';' && tokens[pos] !== '{') args.push(tokens[pos++]);
      if (tokens[pos] === '{') {
        pos++;
        const inner = block();
        pos++; // '}'
        out.push({ name, args, block: inner });
      } else {
        pos++; // ';'
        out.push({ name, args });
      }
    }
    return out;
  };
  return block();
}

const children = (ds: Directive[] | undefined, name: string): Directive[] => (ds ?? []).filter((d) => d.name === name);

interface Location {
  readonly modifier: '=' | '^~' | '' | '~' | '~*';
  readonly path: string;
  readonly proxyPass: string | undefined;
}

function serverOf(conf: Directive[]): { http: Directive[]; server: Directive[] } {
  const http = children(conf, 'http')[0]?.block ?? [];
  const servers = children(http, 'server');
  if (servers.length !== 1) throw new Error(`${NGINX_CONF}: expected one server block, found ${servers.length}`);
  return { http, server: servers[0].block ?? [] };
}

function locationsOf(server: Directive[]): Location[] {
  const vars = Object.fromEntries(children(server, 'set').map((d) => [d.args[0], d.args[1]]));
  return children(server, 'location').map((d) => {
    const [a, b] = d.args;
    const modifier = (b === undefined ? '' : a) as Location['modifier'];
    const pass = children(d.block, 'proxy_pass')[0]?.args[0];
    return { modifier, path: b ?? a, proxyPass: pass?.replace(/\$[A-Za-z_][A-Za-z0-9_]*/g, (v) => vars[v] ?? v) };
  });
}

/** nginx's choice for a URI: an exact match, else the longest prefix (regex locations are refused). */
function locate(locations: Location[], uri: string): Location | undefined {
  const exact = locations.find((l) => l.modifier === '=' && l.path === uri);
  if (exact) return exact;
  return locations
    .filter((l) => (l.modifier === '' || l.modifier === '^~') && uri.startsWith(l.path))
    .sort((x, y) => y.path.length - x.path.length)[0];
}

function checkIngress(conf: Directive[], compose: Compose): string[] {
  const problems: string[] = [];
  const { http, server } = serverOf(conf);
  const locations = locationsOf(server);
  if (locations.some((l) => l.modifier === '~' || l.modifier === '~*')) problems.push('regex locations: keep to exact and prefix locations so routing stays checkable');
  const appPort = (service: string): string => environmentOf(compose.services[service] ?? {}).PORT ?? '3000';
  const upstream = (l: Location | undefined): string | undefined => {
    if (!l?.proxyPass) return undefined;
    const u = new URL(l.proxyPass);
    if ((u.port || '80') !== appPort(u.hostname)) problems.push(`${l.path}: proxies to port ${u.port}, ${u.hostname} listens on ${appPort(u.hostname)}`);
    if (u.pathname !== '/' && u.pathname !== '') problems.push(`${l.path}: proxy_pass rewrites the path (${u.pathname})`);
    return u.hostname;
  };
  for (const [path, service] of CONTRACT_ROUTES) {
    const got = upstream(locate(locations, path));
    if (got !== service) problems.push(`${path} goes to ${got ?? 'no service'}, CONTRACT §1 says ${service}`);
  }
  for (const path of NOT_ROUTED) {
    const got = upstream(locate(locations, path));
    if (got !== undefined) problems.push(`${path} is routed to ${got}: keep it off the ingress`);
  }
  for (const l of locations) {
    const host = upstream(l);
    if (host !== undefined && !HTTP_APPS.includes(host)) problems.push(`${l.path} proxies to ${host}, not a suite service`);
  }
  for (const l of locations) if (l.proxyPass?.includes('$')) problems.push(`${l.path}: proxy_pass ${l.proxyPass} uses a variable that no server-level set defines`);
  if (children(server, 'set').length > 0 && children(http, 'resolver').length + children(server, 'resolver').length === 0) {
    problems.push('proxy_pass through variables needs a resolver (Docker DNS 127.0.0.11)');
  }
  const listen = children(server, 'listen')[0]?.args[0] ?? '80';
  const published = ((compose.services.ingress?.ports as unknown[]) ?? []).map((p) => String(p).split(':').pop()!.split('/')[0]);
  if (!published.includes(listen.split(':').pop()!)) problems.push(`nginx listens on ${listen}, the ingress publishes ${published.join(', ')}`);
  return problems;
}

// ------------------------------------------------------------------------------------------------

describe('docker-compose.yml', () => {
  const compose = loadCompose();
  const example = parseEnvExample();
  const refs = interpolationReferences();
  const { stages } = parseDockerfile();

  it('classifies every service: the suite (registration, token, challenge, federation, migrate) or a third-party image', () => {
    check(checkServiceSet(compose));
  });

  it('sets on the suite services only variables of libs/config/src/env-vars.ts, all under environment:', () => {
    check(checkVariableNames(compose));
  });

  it('takes secrets from .env: the example documents every ${…} with known names only and commits no secret', () => {
    check(checkEnvExample(compose, example, refs));
    expect([...new Set(refs.filter((r) => r.required).map((r) => r.name))].sort()).toEqual(['DPOP_NONCE_SECRET', 'KEY_ENCRYPTION_KEY', 'POSTGRES_PASSWORD']);
  });

  it('refuses to start without the secrets (${…:?}) instead of running on empty ones', () => {
    expect(() => resolvedCompose({})).toThrow(/POSTGRES_PASSWORD|KEY_ENCRYPTION_KEY|DPOP_NONCE_SECRET/);
  });

  for (const allOptional of [false, true]) {
    const label = allOptional ? 'with every optional setting of the example on' : 'with the example as shipped';
    describe(label, () => {
      const vars = dotEnvFromExample(example, allOptional);
      const resolved = resolvedCompose(vars);

      it.each(Object.entries(SUITE_SERVICES))('%s: loadConfig accepts its environment in production (what the image and compose give it)', (service, app) => {
        const image = effective(stages, app).env;
        const env = { ...image, ...environmentOf(resolved.services[service]) };
        const config = loadConfig(app, env);
        expect(config.mode).toBe('production');
        expect(config.db.url).toBeDefined();
        if (app !== 'cli') {
          expect(config.redis.url).toBeDefined();
          expect(config.keys.encryptionKey).toBeDefined();
          expect(config.dpop.nonceSecret).toBeDefined();
        }
        if (app === 'challenge') {
          if (config.challenge.methods.includes('email_otp')) expect(config.messaging.smtpUrl).toBeDefined();
          if (config.challenge.methods.includes('sms_otp')) expect(config.messaging.smsUrl).toBeDefined();
        }
      });

      it('gives every HTTP app each variable env-vars.ts marks required in production, non-empty', () => {
        const required = Object.entries(ENV_VARS)
          .filter(([, spec]) => (spec as { required?: string }).required === 'production')
          .map(([name]) => name);
        expect(required.length).toBeGreaterThan(0);
        const problems: string[] = [];
        for (const service of HTTP_APPS) {
          const env = environmentOf(resolved.services[service]);
          for (const name of required) if (!env[name]) problems.push(`${service}: ${name} is not set`);
        }
        check(problems);
      });

      it('uses one ISSUER for every service: the URL the ingress publishes', () => {
        const issuers = new Set(Object.keys(SUITE_SERVICES).map((s) => environmentOf(resolved.services[s]).ISSUER));
        expect(issuers.size).toBe(1);
        const issuer = new URL([...issuers][0]!);
        const ports = (resolved.services.ingress.ports as string[]).map((p) => String(p).split(':'));
        const [bind, hostPort] = ports[0].length === 3 ? ports[0] : ['0.0.0.0', ports[0][0]];
        expect(issuer.port || (issuer.protocol === 'https:' ? '443' : '80')).toBe(hostPort);
        if (bind === '127.0.0.1') expect(['localhost', '127.0.0.1']).toContain(issuer.hostname);
      });

      it('points the store and mail URLs at the compose services, with the postgres service’s own credentials', () => {
        const pg = environmentOf(resolved.services.postgres);
        const problems: string[] = [];
        for (const service of Object.keys(SUITE_SERVICES)) {
          const env = environmentOf(resolved.services[service]);
          const deps = Object.keys((resolved.services[service].depends_on as Obj | undefined) ?? {});
          for (const key of ['DATABASE_URL', 'REDIS_URL', 'SMTP_URL'] as const) {
            if (!env[key]) continue;
            const u = new URL(env[key]);
            if (!(u.hostname in resolved.services)) problems.push(`${service}: ${key} names host ${u.hostname}, not a compose service`);
            else if (!deps.includes(u.hostname)) problems.push(`${service}: ${key} needs ${u.hostname} but does not depend on it`);
          }
          const db = env.DATABASE_URL ? new URL(env.DATABASE_URL) : undefined;
          if (db && (decodeURIComponent(db.username) !== pg.POSTGRES_USER || decodeURIComponent(db.password) !== pg.POSTGRES_PASSWORD || db.pathname !== `/${pg.POSTGRES_DB}`)) {
            problems.push(`${service}: DATABASE_URL does not match the postgres service's user, password and database`);
          }
        }
        check(problems);
      });
    });
  }

  it('builds each suite service from its Dockerfile target and runs it as non-root on a read-only root filesystem', () => {
    const problems: string[] = [];
    for (const [service, app] of Object.entries(SUITE_SERVICES)) {
      const s = compose.services[service];
      const build = s.build as Obj | undefined;
      if (build?.target !== app || (build.context !== '.' && build.context !== './')) problems.push(`${service}: build must be {context: ., target: ${app}}`);
      if (!stages.some((st) => st.name === app)) problems.push(`${service}: the Dockerfile has no target ${app}`);
      if (s.user !== undefined && isRootUser(String(s.user))) problems.push(`${service}: user: ${String(s.user)} overrides the image's non-root user`);
      if (s.user === undefined && isRootUser(effective(stages, app).user)) problems.push(`${service}: the image runs as root`);
      if (s.read_only !== true) problems.push(`${service}: read_only is not true`);
      if (s.privileged === true) problems.push(`${service}: privileged`);
    }
    check(problems);
  });

  it('has a health check on every long-running service; the suite’s ask node for /health/*', () => {
    const problems: string[] = [];
    for (const [name, s] of Object.entries(compose.services)) {
      const hc = s.healthcheck as { test?: unknown; disable?: boolean } | undefined;
      if (ONE_SHOT.includes(name)) continue;
      const test = hc?.test;
      const argv = Array.isArray(test) ? test.map(String) : typeof test === 'string' ? ['CMD-SHELL', test] : [];
      if (hc?.disable === true || argv.length < 2 || argv[0] === 'NONE') {
        problems.push(`${name}: no health check`);
        continue;
      }
      if (name in SUITE_SERVICES && (argv[0] !== 'CMD' || argv[1] !== 'node' || !/\/health\/(live|ready)/.test(argv.join(' ')))) {
        problems.push(`${name}: health check must be ["CMD", "node", "-e", …/health/…] (the image has no curl): ${JSON.stringify(argv)}`);
      }
    }
    check(problems);
  });

  it('starts in order: stores healthy → migrate completed → apps healthy → ingress', () => {
    const problems: string[] = [];
    const expectDeps = (service: string, wanted: Record<string, string>): void => {
      const deps = compose.services[service]?.depends_on;
      if (Array.isArray(deps)) {
        problems.push(`${service}: depends_on needs the long form with a condition`);
        return;
      }
      const got = Object.fromEntries(Object.entries((deps as Record<string, { condition?: string }>) ?? {}).map(([k, v]) => [k, v?.condition ?? 'service_started']));
      for (const [dep, condition] of Object.entries(wanted)) {
        if (got[dep] !== condition) problems.push(`${service}: depends_on ${dep} should be ${condition}, is ${got[dep] ?? 'missing'}`);
      }
      for (const [dep, condition] of Object.entries(got)) {
        const right = ONE_SHOT.includes(dep) ? 'service_completed_successfully' : 'service_healthy';
        if (condition !== right) problems.push(`${service}: depends_on ${dep} is ${condition}, should be ${right}`);
      }
    };
    const stores = { postgres: 'service_healthy', redis: 'service_healthy', migrate: 'service_completed_successfully' };
    for (const app of HTTP_APPS) expectDeps(app, stores);
    expectDeps('challenge', { mailpit: 'service_healthy' });
    expectDeps('migrate', { postgres: 'service_healthy' });
    expectDeps('ingress', Object.fromEntries(HTTP_APPS.map((a) => [a, 'service_healthy'])));
    check(problems);
  });

  it('runs the migrations once with `node dist/apps/cli/src/main.js migration run` and does not restart it', () => {
    const migrate = compose.services.migrate;
    const image = effective(stages, 'cli');
    const argv = [...(image.entrypoint ?? []), ...((migrate.command as string[] | undefined) ?? image.cmd ?? [])];
    expect(argv).toEqual(['node', 'dist/apps/cli/src/main.js', 'migration', 'run']);
    expect(migrate.entrypoint).toBeUndefined();
    expect(String(migrate.restart ?? 'no')).toBe('no');
  });
});

describe('deploy/nginx/nginx.conf (the ingress)', () => {
  const conf = parseNginx();
  const compose = loadCompose();

  it('routes every CONTRACT §1 path to its service, and neither /metrics nor /health/*', () => {
    check(checkIngress(conf, compose));
  });

  it('is the file the ingress service mounts', () => {
    const volumes = (compose.services.ingress.volumes as string[]).map(String);
    expect(volumes).toContain('./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro');
  });
});

describe('Dockerfile', () => {
  const { stages } = parseDockerfile();

  it('is multi-stage: a build stage with every dependency, then runtime stages', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    const build = stages[0];
    expect(build.instructions.some((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args) && !/--omit/.test(i.args))).toBe(true);
    expect(build.instructions.some((i) => i.keyword === 'RUN' && /\bnpm run build\b/.test(i.args))).toBe(true);
  });

  it.each(Object.entries({ ...SUITE_SERVICES, standalone: 'standalone', 'sample-api': 'sample-api' } as Record<string, string>))(
    'target for %s: non-root, production mode, node as PID 1 (exec form, start-script flags), a node health check',
    (_service, app) => {
      check(checkDockerfileTarget(stages, app, app));
      check(checkProductionDependencies(stages, app));
    },
  );

  it('the final (default) stage is non-root too', () => {
    expect(isRootUser(effective(stages, stages[stages.length - 1].name).user)).toBe(false);
  });

  it('.dockerignore keeps local state, secrets and build output out of the context', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim());
    for (const entry of ['node_modules', 'dist', '.data', '.git', 'coverage', '*.log', '.env']) expect(ignored).toContain(entry);
  });
});

describe('the checks catch drift (mutated copies)', () => {
  const text = read(COMPOSE_FILE);
  const withTokenEnv = (line: string): string => {
    // Give the token service its own environment with one more variable.
    const compose = loadCompose(text);
    compose.services.token.environment = { ...environmentOf(compose.services.token), ...Object.fromEntries([line.split('=')]) };
    return JSON.stringify(compose);
  };

  it('an unknown variable on a suite service', () => {
    const compose = JSON.parse(withTokenEnv('TOKEN_TTL=60')) as Compose;
    expect(checkVariableNames(compose)).toEqual(['token: TOKEN_TTL is not a variable of libs/config/src/env-vars.ts']);
  });

  it('an env_file on a suite service', () => {
    const compose = loadCompose(text);
    compose.services.challenge.env_file = '.env';
    expect(checkVariableNames(compose)).toHaveLength(1);
  });

  it('an unknown or unused variable in the example env file, and a committed secret', () => {
    const example = parseEnvExample(`${read(ENV_EXAMPLE)}\nSESSION_SECRET=\n`);
    expect(checkEnvExample(loadCompose(text), example, interpolationReferences(text))).toEqual([
      `${ENV_EXAMPLE}: SESSION_SECRET is neither a suite variable (env-vars.ts) nor a compose-level one`,
      `${ENV_EXAMPLE}: SESSION_SECRET is not used by ${COMPOSE_FILE} (it would reach no service)`,
    ]);
    const leaked = parseEnvExample(read(ENV_EXAMPLE).replace(/^KEY_ENCRYPTION_KEY=$/m, 'KEY_ENCRYPTION_KEY=abc'));
    expect(checkEnvExample(loadCompose(text), leaked, interpolationReferences(text))).toHaveLength(1);
  });

  it('a production requirement left out (SMTP_URL with email_otp on the challenge service)', () => {
    const { stages } = parseDockerfile();
    const resolved = resolvedCompose(dotEnvFromExample(parseEnvExample(), false));
    const env = { ...effective(stages, 'challenge').env, ...environmentOf(resolved.services.challenge) };
    delete env.SMTP_URL;
    expect(() => loadConfig('challenge', env)).toThrow(/SMTP_URL/);
  });

  it('/metrics through the ingress, and a route to the wrong service', () => {
    const compose = loadCompose(text);
    const metrics = parseNginx(read(NGINX_CONF).replace('location = /ingress-health {', 'location /metrics { proxy_pass $token; }\n    location = /ingress-health {'));
    expect(checkIngress(metrics, compose)).toEqual(['/metrics is routed to token: keep it off the ingress']);
    const swapped = parseNginx(read(NGINX_CONF).replace(/location = \/jwks(\s+)\{ proxy_pass \$token; \}/, 'location = /jwks$1{ proxy_pass $challenge; }'));
    expect(checkIngress(swapped, compose)).toEqual(['/jwks goes to challenge, CONTRACT §1 says token']);
  });

  it('a root user, npm start as the process, and dev dependencies in the image', () => {
    const df = read('Dockerfile');
    const root = parseDockerfile(df.replace('USER 1000:1000', 'USER root')).stages;
    expect(checkDockerfileTarget(root, 'token', 'token')).toEqual(['token: runs as root (USER root)']);
    const npm = parseDockerfile(df.replace('ENTRYPOINT ["node", "--max-semi-space-size=32", "dist/apps/token/src/main.js"]', 'CMD ["npm", "run", "start:token"]')).stages;
    expect(checkDockerfileTarget(npm, 'token', 'token').join('\n')).toMatch(/not node[\s\S]*npm/);
    const dev = parseDockerfile(df.replace('npm ci --omit=dev', 'npm ci')).stages;
    expect(checkProductionDependencies(dev, 'token').length).toBeGreaterThan(0);
  });
});
