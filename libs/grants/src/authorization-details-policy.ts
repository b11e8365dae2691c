import type { AuthorizationDetail } from '@fpa/authz-request';
import type { Client } from '@fpa/clients';
import { OAuthError } from '@fpa/oauth-core';
import type { DetailsNarrower } from './ports';

/**
 * RAR-5 / RFC 9396 §6: the authorization details an access token carries. Without an
 * `authorization_details` parameter, everything the grant holds; with one, that subset — each
 * object valid for its type and this client (RAR-4) and equal to a granted one (the registry's
 * `narrow`, RAR-9). Anything broader, unknown or malformed — and any details asked of a grant that
 * has none — is `invalid_authorization_details` (like `invalid_scope`). The grant is unchanged (§6.1).
 */
export function detailsForToken(registry: DetailsNarrower, client: Client, granted: readonly Record<string, unknown>[] | null, requested: string | undefined): AuthorizationDetail[] | undefined {
  const grant = (granted ?? []) as readonly AuthorizationDetail[];
  if (requested === undefined) return grant.length > 0 ? [...grant] : undefined;
  const asked = registry.parse(requested, client.authorizationDetailsTypes);
  if (grant.length === 0) throw new OAuthError('invalid_authorization_details', 'no authorization_details were granted');
  return registry.narrow(grant, asked);
}
