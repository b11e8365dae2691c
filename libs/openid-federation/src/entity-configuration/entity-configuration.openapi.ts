import { ref, type OpenApiFragment } from '@fpa/openapi';
import { ENTITY_STATEMENT_MEDIA_TYPE } from '../chain/entity-statement';

export const OPENID_FEDERATION_TAG = 'openid-federation';

/** `GET /.well-known/openid-federation` in the federation service (CONTRACT §1). */
export const entityConfigurationOpenApi: OpenApiFragment = {
  name: 'openid-federation',
  tags: [{ name: OPENID_FEDERATION_TAG, description: 'OpenID Federation 1.0: the suite’s entity configuration.' }],
  paths: {
    '/.well-known/openid-federation': {
      'x-service': 'federation',
      get: {
        tags: [OPENID_FEDERATION_TAG],
        operationId: 'openidFederationEntityConfiguration',
        summary: 'The suite’s entity configuration',
        description: [
          'OpenID Federation 1.0 §3.1 and §9: a JWS (`typ: entity-statement+jwt`) signed with the suite’s federation entity key, one of those in its own `jwks`.',
          'Claims: `iss` = `sub` = the issuer, `iat`, `exp` (OPENID_FEDERATION_STATEMENT_TTL_SECONDS), `jwks` (the federation entity keys, public members only), `authority_hints` (OPENID_FEDERATION_AUTHORITY_HINTS, when set) and `metadata` with `oauth_authorization_server` (the RFC 8414 document of `/.well-known/oauth-authorization-server`) and `federation_entity`.',
        ].join('\n\n'),
        security: [{}],
        responses: {
          '200': {
            description: 'The signed entity configuration.',
            headers: { 'Cache-Control': { description: 'Reusable for at most five minutes (or half its lifetime).', required: true, schema: { type: 'string', pattern: '^public, max-age=\\d+$' } } },
            content: { [ENTITY_STATEMENT_MEDIA_TYPE]: { schema: { type: 'string', pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$', description: 'Compact JWS.' } } },
          },
          '500': ref('responses', 'ServerError'),
        },
      },
    },
  },
};
