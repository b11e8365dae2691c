import type { SchemaObject } from '@nestjs/swagger';
import { BODY_PARSER_RESPONSES, CLIENT_AUTHENTICATION, errorResponse, FAULT_RESPONSES, jsonResponse, NO_STORE_HEADERS, ref, type OpenApiFragment } from '@fpa/openapi';

export const TOKEN_MANAGEMENT_TAG = 'introspection and revocation';

const TOKEN_REQUEST: SchemaObject = {
  allOf: [
    CLIENT_AUTHENTICATION,
    {
      type: 'object',
      required: ['token'],
      properties: {
        token: { type: 'string', maxLength: 16384, description: 'An access token (JWT) or a refresh token of this issuer.' },
        token_type_hint: { type: 'string', maxLength: 64, description: '`access_token` or `refresh_token` (RFC 7009 §2.1): only a hint — the other kind is searched too.' },
      },
    },
  ],
};

/** RFC 7662 §2.2 with the members this server knows (DPOP-22, FIPA-30, RAR-7). */
const INTROSPECTION_RESPONSE: SchemaObject = {
  oneOf: [
    { title: 'inactive', type: 'object', required: ['active'], additionalProperties: false, properties: { active: { type: 'boolean', enum: [false] } } },
    {
      title: 'active',
      type: 'object',
      required: ['active', 'scope', 'client_id', 'sub', 'aud', 'iss', 'exp', 'iat'],
      additionalProperties: false,
      properties: {
        active: { type: 'boolean', enum: [true] },
        scope: { type: 'string' },
        client_id: { type: 'string' },
        sub: { type: 'string' },
        aud: { type: 'string', description: 'The audience (RFC 8707 resource, or DEFAULT_AUDIENCE).' },
        iss: { type: 'string', format: 'uri' },
        exp: { type: 'integer' },
        iat: { type: 'integer' },
        jti: { type: 'string', description: 'Access tokens only.' },
        token_type: { type: 'string', enum: ['DPoP', 'Bearer', 'PoP'], description: 'Access tokens only; `DPoP` for a bound token (DPOP-22), `PoP` for a PoP token (seed 001, ACE-6).' },
        cnf: {
          type: 'object',
          minProperties: 1,
          maxProperties: 1,
          additionalProperties: false,
          properties: {
            jkt: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' },
            jwk: { type: 'object', description: 'A PoP token’s client key (RFC 7800 §3.2).' },
            jwe: { type: 'string', description: 'A PoP token’s symmetric key, encrypted for its resource server (RFC 7800 §3.3).' },
          },
          description: 'The key the token is bound to: the DPoP key (RFC 9449 §6.2), or a PoP token’s `cnf` as in the token (ACE-6, docs/pop-tokens.md).',
        },
        auth_session: ref('schemas', 'AuthSession'),
        authorization_details: ref('schemas', 'AuthorizationDetails'),
      },
    },
  ],
};

const CLIENT_ERRORS = {
  '400': errorResponse('`token` is missing, two client authentication methods were used, or the client may not do this (`unauthorized_client`).', ['invalid_request', 'unauthorized_client']),
  '401': errorResponse('Client authentication failed.', ['invalid_client'], { headers: { 'WWW-Authenticate': ref('headers', 'WWWAuthenticateBasic') } }),
  ...BODY_PARSER_RESPONSES,
  ...FAULT_RESPONSES,
};

/** `POST /introspect` (RFC 7662) and `POST /revoke` (RFC 7009) in the token service. */
export const tokenManagementOpenApi: OpenApiFragment = {
  name: 'introspection and revocation',
  tags: [{ name: TOKEN_MANAGEMENT_TAG, description: 'RFC 7662 and RFC 7009 for the suite’s JWT access tokens and opaque refresh tokens.' }],
  components: { schemas: { TokenRequest: TOKEN_REQUEST, IntrospectionResponse: INTROSPECTION_RESPONSE } },
  paths: {
    '/introspect': {
      'x-service': 'token',
      post: {
        tags: [TOKEN_MANAGEMENT_TAG],
        operationId: 'introspect',
        summary: 'Is this token active, and what does it carry?',
        description:
          'For confidential clients with the `introspect` permission (resource servers, RFC 7662 §2.1); a public client or one without the permission is `unauthorized_client`. A client that lists `resources` learns only about tokens whose audience is one of them (others are `active: false`). An access token is active while its signature, issuer and expiry hold, it is not revoked and its session is usable.',
        security: [{ client_secret_basic: [] }, {}],
        requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: ref('schemas', 'TokenRequest') } } },
        responses: { '200': jsonResponse('The token’s state.', ref('schemas', 'IntrospectionResponse')), ...CLIENT_ERRORS },
      },
    },
    '/revoke': {
      'x-service': 'token',
      post: {
        tags: [TOKEN_MANAGEMENT_TAG],
        operationId: 'revoke',
        summary: 'Revoke a token (and, for a refresh token, its whole family)',
        description:
          'RFC 7009. A client revokes its own tokens; one with the `revoke` permission revokes any. A revoked refresh token takes its family and their access tokens with it; a revoked access token is refused by introspection and by resource servers (through Redis) until it expires. An unknown token is not an error (§2.2).',
        security: [{ client_secret_basic: [] }, {}],
        requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: ref('schemas', 'TokenRequest') } } },
        responses: {
          '200': { description: 'Revoked, or unknown. No body.', headers: { 'Cache-Control': NO_STORE_HEADERS['Cache-Control'] } },
          ...CLIENT_ERRORS,
          '400': errorResponse('`token` is missing, two client authentication methods were used, or the token belongs to another client (`unauthorized_client`).', ['invalid_request', 'unauthorized_client']),
        },
      },
    },
  },
};
