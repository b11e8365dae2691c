/** The local proxy's routing table: which service answers which public path (CONTRACT §1). */

export interface RouteRule {
  /** Lower-case path. */
  readonly path: string;
  /** Also match `<path>/…` (Swagger UI assets under /docs). */
  readonly prefix?: boolean;
  readonly service: string;
}

/** CONTRACT §1: which service answers which path under the one issuer. */
export const CONTRACT_ROUTES: readonly RouteRule[] = [
  { path: '/register', service: 'registration' },
  { path: '/token', service: 'token' },
  { path: '/par', service: 'token' },
  { path: '/introspect', service: 'token' },
  { path: '/revoke', service: 'token' },
  { path: '/jwks', service: 'token' },
  { path: '/.well-known/oauth-authorization-server', service: 'token' },
  { path: '/authorize-challenge', service: 'challenge' },
  { path: '/authorize', service: 'challenge' },
  { path: '/authorize/login', service: 'challenge' },
  { path: '/authorize/assets', prefix: true, service: 'challenge' },
  { path: '/openapi.json', service: 'challenge' },
  { path: '/docs', prefix: true, service: 'challenge' },
  // Issue 11: the wallet's OpenID4VP endpoints (request objects, responses) are the digital_credential method's.
  { path: '/openid4vp', prefix: true, service: 'challenge' },
  { path: '/federation/callback', service: 'federation' },
  { path: '/federation/jwks', service: 'federation' },
  { path: '/.well-known/openid-federation', service: 'federation' },
];

/** Never routed, whatever the table says (CONTRACT §1: keep /metrics off the public ingress). */
const BLOCKED = ['/metrics'];

/** The service for a normalised path, or undefined (404). Case-insensitive, like Express routing. */
export function routeFor(pathname: string, routes: readonly RouteRule[] = CONTRACT_ROUTES): RouteRule | undefined {
  const p = pathname.toLowerCase().replace(/\/+$/, '') || '/';
  if (BLOCKED.some((b) => p === b || p.startsWith(`${b}/`))) return undefined;
  return routes.find((r) => p === r.path || (r.prefix === true && p.startsWith(`${r.path}/`)));
}

/**
 * The request target as it will be forwarded: origin-form, dot segments resolved (so `/docs/../metrics`
 * is routed — and refused — as `/metrics`), or undefined when it is not a path at all.
 */
export function normaliseTarget(rawUrl: string): { pathname: string; target: string } | undefined {
  if (!rawUrl.startsWith('/') || rawUrl.startsWith('//')) return undefined;
  try {
    const u = new URL(rawUrl, 'http://proxy.invalid');
    return { pathname: u.pathname, target: `${u.pathname}${u.search}` };
  } catch {
    return undefined;
  }
}
