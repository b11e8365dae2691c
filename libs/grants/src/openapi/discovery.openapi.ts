import type { SchemaObject } from '@nestjs/swagger';
import { BASE64URL, ref, type OpenApiFragment } from '@fpa/openapi';

export const DISCOVERY_TAG = 'discovery';

const url = (description: string): SchemaObject => ({ type: 'string', format: 'uri', description });
const list = (description: string, values?: string[]): SchemaObject => ({ type: 'array', minItems: 1, uniqueItems: true, items: values ? { type: 'string', enum: values } : { type: 'string' }, description });
const ALGS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'RS256', 'PS256', 'RS384', 'PS384', 'RS512', 'PS512'];
const AUTH_METHODS = ['private_key_jwt', 'client_secret_basic', 'client_secret_post', 'none'];

/**
 * RFC 8414 §2 as this suite fills it (META-1…4): each feature contributes its members; an empty
 * array is left out. Closed: a member the server starts to publish must be described here first.
 */
const METADATA: SchemaObject = {
  type: 'object',
  required: ['issuer', 'token_endpoint', 'jwks_uri', 'response_types_supported', 'grant_types_supported', 'token_endpoint_auth_methods_supported'],
  additionalProperties: false,
  properties: {
    issuer: url('The issuer identifier: exactly the URL this document was fetched under, without the well-known suffix (META-2).'),
    authorization_endpoint: url('`GET /authorize`.'),
    token_endpoint: url('`POST /token`.'),
    jwks_uri: url('`GET /jwks`.'),
    device_registration_endpoint: url('`POST /register` (CONTRACT §1).'),
    authorization_challenge_endpoint: url('`POST /authorize-challenge` (FIPA-7, FIPA-35).'),
    native_authorization_endpoint: url('The same URL, under the federation draft’s name (FED-1).'),
    pushed_authorization_request_endpoint: url('`POST /par` (PAR-1).'),
    require_pushed_authorization_requests: { type: 'boolean', description: 'REQUIRE_PUSHED_AUTHORIZATION_REQUESTS (PAR-1, PAR-10).' },
    introspection_endpoint: url('`POST /introspect`.'),
    revocation_endpoint: url('`POST /revoke`.'),
    grant_types_supported: list('The token endpoint’s grants.', ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code']),
    response_types_supported: list('`code` only.', ['code']),
    response_modes_supported: list('`query` only.', ['query']),
    code_challenge_methods_supported: list('`S256` only (GEN-2).', ['S256']),
    token_endpoint_auth_methods_supported: list('Client authentication at `/token` (and `/par`).', AUTH_METHODS),
    token_endpoint_auth_signing_alg_values_supported: list('Algorithms of `private_key_jwt` assertions (never `none`, JWTCA-8).', ALGS),
    introspection_endpoint_auth_methods_supported: list('Client authentication at `/introspect`.', AUTH_METHODS),
    introspection_endpoint_auth_signing_alg_values_supported: list('Algorithms of assertions at `/introspect`.', ALGS),
    revocation_endpoint_auth_methods_supported: list('Client authentication at `/revoke`.', AUTH_METHODS),
    revocation_endpoint_auth_signing_alg_values_supported: list('Algorithms of assertions at `/revoke`.', ALGS),
    dpop_signing_alg_values_supported: list('DPOP_ALGS (DPOP-8, DPOP-20).', ALGS),
    access_token_signing_alg_values_supported: list('SIGNING_ALG: how RFC 9068 access tokens are signed.', ['ES256', 'RS256']),
    acr_values_supported: list('The authentication context classes `acr_values` may name (README "Assurance").'),
    authorization_response_iss_parameter_supported: { type: 'boolean', enum: [true], description: 'RFC 9207: every authorization response carries `iss`.' },
    prompt_values_supported: list('OIDC `prompt` values.', ['login', 'consent', 'none']),
    authorization_details_types_supported: list('RFC 9396 types this deployment validates (RAR-8; AUTHORIZATION_DETAILS_FILE).'),
    // Issue 12 (seed 001, docs/pop-tokens.md): present only when POP_RESOURCE_SERVERS_FILE registers a resource server.
    pop_token_profile: { type: 'string', enum: ['urn:first-party-auth:pop:http-dpop'], description: 'PoP tokens: `req_cnf` proven by a DPoP proof at `/token`, proofs in the `PoP` header at the resource server (docs/pop-tokens.md).' },
    pop_key_types_supported: list('Key types some registered resource server accepts for PoP tokens (`oct`: server-generated symmetric keys).', ['EC', 'OKP', 'RSA', 'oct']),
    req_cnf_members_supported: list('`req_cnf` forms (RFC 9201 §3.1).', ['jwk', 'kid']),
    pop_proof_types_supported: list('Proofs at the resource server: `dpop+jwt` for client keys, HS256 `pop+jwt` for symmetric keys.', ['dpop+jwt', 'pop+jwt']),
    rs_cnf_supported: { type: 'boolean', enum: [true], description: 'Every PoP token response carries `rs_cnf`, the resource server’s public key (RFC 9201 §3.2).' },
  },
};

const keyMember = { type: 'string', pattern: BASE64URL };
/** RFC 7517 public signing keys: exactly these members — a private member is never published. */
const JWK_SET: SchemaObject = {
  type: 'object',
  required: ['keys'],
  additionalProperties: false,
  properties: {
    keys: {
      type: 'array',
      description: 'Pending, active and retiring keys: a rotated-in key is published KEY_PUBLISH_LEAD_SECONDS before it signs; a retired one stays until its tokens expired.',
      items: {
        oneOf: [
          {
            title: 'EC P-256 (ES256)',
            type: 'object',
            required: ['kty', 'crv', 'x', 'y', 'kid', 'alg', 'use'],
            additionalProperties: false,
            properties: { kty: { type: 'string', enum: ['EC'] }, crv: { type: 'string', enum: ['P-256'] }, x: keyMember, y: keyMember, kid: keyMember, alg: { type: 'string', enum: ['ES256'] }, use: { type: 'string', enum: ['sig'] } },
          },
          {
            title: 'RSA (RS256)',
            type: 'object',
            required: ['kty', 'n', 'e', 'kid', 'alg', 'use'],
            additionalProperties: false,
            properties: { kty: { type: 'string', enum: ['RSA'] }, n: keyMember, e: keyMember, kid: keyMember, alg: { type: 'string', enum: ['RS256'] }, use: { type: 'string', enum: ['sig'] } },
          },
        ],
      },
    },
  },
};

const cacheFor = (seconds: number, why: string) => ({ 'Cache-Control': { description: why, required: true, schema: { type: 'string', enum: [`public, max-age=${seconds}`] } } });

/** `GET /.well-known/oauth-authorization-server` (RFC 8414) and `GET /jwks` in the token service. */
export const discoveryOpenApi: OpenApiFragment = {
  name: 'discovery',
  tags: [{ name: DISCOVERY_TAG, description: 'RFC 8414 metadata and the JWK Set of the suite’s signing keys.' }],
  components: { schemas: { AuthorizationServerMetadata: METADATA, JwkSet: JWK_SET } },
  paths: {
    '/.well-known/oauth-authorization-server': {
      'x-service': 'token',
      get: {
        tags: [DISCOVERY_TAG],
        operationId: 'authorizationServerMetadata',
        summary: 'The authorization server metadata',
        description: 'RFC 8414 §3 (META-1…4): every endpoint that is enabled, with the methods and algorithms it accepts.',
        security: [{}],
        responses: {
          '200': { description: 'The metadata.', headers: cacheFor(300, 'Cacheable for five minutes.'), content: { 'application/json': { schema: ref('schemas', 'AuthorizationServerMetadata') } } },
          '500': ref('responses', 'ServerError'),
        },
      },
    },
    '/jwks': {
      'x-service': 'token',
      get: {
        tags: [DISCOVERY_TAG],
        operationId: 'jwks',
        summary: 'The public signing keys',
        description: 'What verifies access tokens (`at+jwt`) and `fp_token`s (`fp+jwt`). Public members only (CONTRACT §1).',
        security: [{}],
        responses: {
          '200': {
            description: 'The JWK Set (RFC 7517 §5).',
            headers: cacheFor(60, 'Cacheable for a minute — less than KEY_PUBLISH_LEAD_SECONDS, so a new key is seen before it signs.'),
            content: { 'application/jwk-set+json': { schema: ref('schemas', 'JwkSet') } },
          },
          '500': ref('responses', 'ServerError'),
        },
      },
    },
  },
};
