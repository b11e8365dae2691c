import { discoveryOpenApi } from './discovery.openapi';
import { tokenManagementOpenApi } from './token-management.openapi';
import { tokenOpenApi } from './token.openapi';

export { discoveryOpenApi, tokenManagementOpenApi, tokenOpenApi };

/** The token service's paths (CONTRACT §1) but `/par`: the token endpoint, introspection and revocation, discovery. */
export const TOKEN_SERVICE_OPENAPI = [tokenOpenApi, tokenManagementOpenApi, discoveryOpenApi] as const;
