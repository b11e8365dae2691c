/** Where a client's scopes and resources are judged (libs/clients); re-exported for the grants. */
export { AUTH_SESSION_SCOPE_PREFIX, audienceFor, grantedScopes, scopeClaim, scopesWithoutSession } from '@fpa/clients';
