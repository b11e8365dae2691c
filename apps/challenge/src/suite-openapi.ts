import { challengeOpenApi } from '@fpa/interaction';
import type { OpenApiContribution } from '@fpa/openapi';
import { federationOpenApi } from '@fpa/federation';
import { TOKEN_SERVICE_OPENAPI } from '@fpa/grants';
import { entityConfigurationOpenApi } from '@fpa/openid-federation';
import { openid4vpOpenApi } from '@fpa/openid4vp';
import { parOpenApi } from '@fpa/par';
import { registrationOpenApi } from '@fpa/registration';
import { webLoginOpenApi } from '@fpa/web-login';

/**
 * What the suite's OpenAPI document describes: every public endpoint of every service (CONTRACT §1),
 * whichever process serves the document. The ingress sends /openapi.json and /docs to the challenge
 * service, so it describes the token and registration services from their fragments (plain data:
 * none of their modules is loaded). The challenge endpoint's part is generated from the running app.
 */
export const SUITE_OPENAPI: readonly OpenApiContribution[] = [registrationOpenApi, ...TOKEN_SERVICE_OPENAPI, parOpenApi, challengeOpenApi, webLoginOpenApi, entityConfigurationOpenApi, federationOpenApi, openid4vpOpenApi];
