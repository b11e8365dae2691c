import type { Client } from './client.entity';
import { OAuthError } from '@fpa/oauth-core';

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
export const AUTH_SESSION_SCOPE_PREFIX = 'auth_session:';

/** RFC 6749 §3.3: the requested scope, limited to what the client may ask for; absent = the client's default. */
export function grantedScopes(client: Client, requested: string | undefined, ceiling?: readonly string[]): string[] {
  const allowed = ceiling ?? client.scopes;
  if (requested === undefined) return [...allowed];
  const tokens = requested.split(' ').filter((s) => s.length > 0);
  for (const t of tokens) {
    if (!SCOPE_TOKEN.test(t) || t.startsWith(AUTH_SESSION_SCOPE_PREFIX)) throw new OAuthError('invalid_scope', 'malformed scope');
    if (!allowed.includes(t)) throw new OAuthError('invalid_scope', `scope ${t} is not allowed`);
  }
  return [...new Set(tokens)];
}

/**
 * The access token's `scope` claim: granted scopes plus `auth_session:<id>` as the seeds carry it
 * (CONTRACT §4); a client's own token (client_credentials without a device) has no session.
 */
export function scopeClaim(scopes: readonly string[], authSession: string | undefined): string {
  return (authSession === undefined ? [...scopes] : [...scopes, `${AUTH_SESSION_SCOPE_PREFIX}${authSession}`]).join(' ');
}

export function scopesWithoutSession(scope: string): string[] {
  return scope.split(' ').filter((s) => s.length > 0 && !s.startsWith(AUTH_SESSION_SCOPE_PREFIX));
}

/** RFC 8707: the audience is the named resource when the client may use it, else the default. */
export function audienceFor(client: Client, resource: string | undefined, defaultAudience: string): string {
  if (resource === undefined) return defaultAudience;
  let u: URL;
  try {
    u = new URL(resource);
  } catch {
    throw new OAuthError('invalid_target', 'resource must be an absolute URI');
  }
  if (u.hash) throw new OAuthError('invalid_target', 'resource must not contain a fragment');
  if (resource !== defaultAudience && !client.resources.includes(resource)) {
    throw new OAuthError('invalid_target', 'this client may not request that resource');
  }
  return resource;
}
