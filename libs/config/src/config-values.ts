import type { AppMode, OpenIdFederationTrustAnchor, TrustProxy } from './app-config';

/** Value parsers of the configuration loader: each takes one variable's text and says what is wrong with it. */

export function parseIssuer(value: string, mode: AppMode, fail: (why: string) => void): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    fail(`is not a valid URL: "${value}"`);
    return value;
  }
  // RFC 8414 §2: https, no query or fragment. Plain http is tolerated for loopback hosts only.
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && (loopback || mode === 'embedded'))) {
    fail('must be an https URL (http is allowed only for localhost or in embedded mode)');
  }
  if (u.search || u.hash) fail('must not have a query or fragment');
  if (u.username || u.password) fail('must not contain credentials');
  return value.replace(/\/+$/, '');
}

/**
 * OpenID Federation 1.0 §1.2: an entity identifier is an https URL with a host, no query or
 * fragment. http is accepted only for a loopback host when `allowHttpLoopback` (tests).
 */
export function entityIdProblem(value: string, allowHttpLoopback: boolean): string | undefined {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return 'is not a URL';
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback && allowHttpLoopback)) return 'must be an https URL';
  if (u.search || u.hash) return 'must not have a query or fragment';
  if (u.username || u.password) return 'must not contain credentials';
  return undefined;
}

export function parseTrustAnchors(value: string | undefined, fail: (why: string) => void, entityId: (v: string) => string | undefined): OpenIdFederationTrustAnchor[] {
  if (value === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    fail('must be a JSON array of {"entity_id", "jwks"}');
    return [];
  }
  if (!Array.isArray(parsed)) {
    fail('must be a JSON array of {"entity_id", "jwks"}');
    return [];
  }
  const anchors: OpenIdFederationTrustAnchor[] = [];
  for (const [i, item] of parsed.entries()) {
    const a = item as { entity_id?: unknown; jwks?: { keys?: unknown } } | null;
    if (!a || typeof a !== 'object' || typeof a.entity_id !== 'string' || !a.jwks || !Array.isArray(a.jwks.keys) || a.jwks.keys.length === 0) {
      fail(`entry ${i} must have an "entity_id" string and a "jwks" with at least one key`);
      continue;
    }
    const id = entityId(a.entity_id);
    if (id === undefined) continue;
    if (anchors.some((x) => x.entityId === id)) fail(`${id} is listed twice`);
    anchors.push({ entityId: id, jwks: { keys: a.jwks.keys as Record<string, unknown>[] } });
  }
  return anchors;
}

export function safeUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

export function parseTrustProxy(v: string): TrustProxy {
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (/^\d+$/.test(v)) return Number(v);
  return v.includes(',') ? v.split(',').map((s) => s.trim()) : v;
}
