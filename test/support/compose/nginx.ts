import { environmentOf, HTTP_APPS, type Compose } from './compose';
import { NGINX_CONF, read } from './files';

/**
 * deploy/nginx/nginx.conf, the compose ingress: a parser for nginx's configuration syntax, nginx's
 * location choice for a URI, and the check that the ingress routes CONTRACT §1 and nothing internal.
 */

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
  ['/federation/jwks', 'federation'],
  ['/.well-known/openid-federation', 'federation'],
];
/** Internal only: scraped and probed on the service network, never through the ingress. */
const NOT_ROUTED = ['/metrics', '/health/live', '/health/ready'];

export interface Directive {
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

export function parseNginx(text = read(NGINX_CONF)): Directive[] {
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

export const children = (ds: Directive[] | undefined, name: string): Directive[] => (ds ?? []).filter((d) => d.name === name);

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

export function checkIngress(conf: Directive[], compose: Compose): string[] {
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
