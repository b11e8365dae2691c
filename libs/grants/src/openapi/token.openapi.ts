import type { SchemaObject } from '@nestjs/swagger';
import { BODY_PARSER_RESPONSES, CLIENT_AUTHENTICATION, COMPACT_JWS, errorResponse, FAULT_RESPONSES, jsonResponse, ref, type OpenApiFragment } from '@fpa/openapi';
import { DEVICE_REGISTRATION_ERRORS, DEVICE_REGISTRATION_PARAMETERS } from '@fpa/registration';

export const TOKEN_TAG = 'token';

/** Issue 12 (seed 001 (C), RFC 9200 §5.8.1, RFC 9201 §3.1, docs/pop-tokens.md): asking for a PoP token. */
const POP_PARAMETERS: Record<string, SchemaObject> = {
  req_cnf: {
    type: 'string',
    maxLength: 8192,
    description:
      'RFC 9201 §3.1 `cnf` syntax as JSON: `{"jwk": <public JWK>}` (EC P-256, Ed25519, RSA ≥ 2048) or `{"kid": "<RFC 7638 thumbprint of a key this client proved for an earlier PoP token>"}`. The DPoP proof of the same request must be signed with that key (ACE-2); symmetric and private keys are refused (`invalid_request`); a key type the resource server does not accept is `unsupported_pop_key` (ACE-4).',
  },
  token_type: { type: 'string', enum: ['pop', 'PoP'], description: 'Asks for a PoP token. Without `req_cnf`: the server generates a symmetric key, returns it in `cnf` and encrypts it for the resource server (`cnf.jwe` in the token). DPoP tokens stay the default.' },
  audience: { type: 'string', maxLength: 512, format: 'uri', description: 'RFC 8693 / ACE-1: the one registered resource server (POP_RESOURCE_SERVERS_FILE) the PoP token is for; `resource` may name it instead (they must agree).' },
};

const scope: SchemaObject = { type: 'string', maxLength: 1024, description: 'Space-delimited scopes, each one the client (or the grant) allows (`invalid_scope` otherwise). Default: all of them.' };
const narrowDetails: SchemaObject = {
  type: 'string',
  maxLength: 8192,
  description: 'RFC 9396 §6 (RAR-5): a JSON array narrowing the granted authorization details for this access token; anything not granted is `invalid_authorization_details`.',
};
const grantType = (value: string): SchemaObject => ({ type: 'string', enum: [value] });

/** One request schema per grant, discriminated by `grant_type` (each grant declares its own parameters; the others are dropped). */
const GRANT_REQUESTS: Record<string, [string, SchemaObject]> = {
  fp_register: [
    'FpRegisterTokenRequest',
    {
      type: 'object',
      description: 'Seed 004: device registration through the token endpoint — the same handler and answer as `POST /register`. No client authentication, no DPoP.',
      required: ['grant_type', 'client_id', 'public_key'],
      properties: { grant_type: grantType('fp_register'), ...DEVICE_REGISTRATION_PARAMETERS },
    },
  ],
  client_credentials: [
    'ClientCredentialsTokenRequest',
    {
      description:
        'CONTRACT §4: a registered device authenticates with `private_key_jwt` signed by its device key, the assertion naming its session in `device_auth_session`; the token carries that `auth_session` (and its user, once one is attached) and comes with a refresh token. A confidential client may ask on its own behalf (RFC 6749 §4.4): no session, no refresh token. A DPoP proof (never with the device key, seed 000 (C)) binds the token.',
      allOf: [
        CLIENT_AUTHENTICATION,
        { type: 'object', required: ['grant_type'], properties: { grant_type: grantType('client_credentials'), scope, resource: { type: 'string', maxLength: 512, format: 'uri', description: 'RFC 8707: the audience, one the client may use (`invalid_target` otherwise). Default: DEFAULT_AUDIENCE.' }, ...POP_PARAMETERS } },
      ],
    },
  ],
  refresh_token: [
    'RefreshTokenTokenRequest',
    {
      description:
        'RFC 6749 §6 with rotation: a new refresh token every time; a rotated one presented again revokes its family. A refresh token bound to a DPoP key needs a proof with that key (DPOP-18); an unbound one of a public client needs its device assertion.',
      allOf: [
        CLIENT_AUTHENTICATION,
        {
          type: 'object',
          required: ['grant_type', 'refresh_token'],
          properties: {
            grant_type: grantType('refresh_token'),
            refresh_token: { type: 'string', maxLength: 1024 },
            scope: { ...scope, description: 'At most the scopes of the original grant.' },
            authorization_details: narrowDetails,
            resource: { type: 'string', maxLength: 512, format: 'uri', description: 'If sent, the audience of the grant (a refresh never changes it, ACE-5).' },
            // ACE-5: a PoP refresh keeps key and audience; these may only repeat them.
            ...POP_PARAMETERS,
          },
        },
      ],
    },
  ],
  authorization_code: [
    'AuthorizationCodeTokenRequest',
    {
      description:
        'RFC 6749 §4.1.3 with PKCE. A code from `/authorize-challenge` is redeemed without `redirect_uri` (FIPA-29), one from `GET /authorize` with exactly its `redirect_uri`; either is single use and bound to the client, the session, the PKCE challenge and the DPoP key (FIPA-33). A reused code revokes what it gave (GEN-3).',
      allOf: [
        CLIENT_AUTHENTICATION,
        {
          type: 'object',
          required: ['grant_type', 'code'],
          properties: {
            grant_type: grantType('authorization_code'),
            code: { type: 'string', maxLength: 1024 },
            code_verifier: { type: 'string', pattern: '^[A-Za-z0-9._~-]{43,128}$', description: 'RFC 7636: required when the authorization request had a `code_challenge`.' },
            redirect_uri: { type: 'string', maxLength: 2048, format: 'uri', description: 'Exactly the authorization request’s; absent for codes of the challenge endpoint.' },
            scope,
            authorization_details: narrowDetails,
            resource: { type: 'string', maxLength: 512, format: 'uri', description: 'RFC 8707 §2.2: if sent, the resource the authorization was for.' },
            ...POP_PARAMETERS,
          },
        },
      ],
    },
  ],
};

/** RFC 6749 §5.1 (+ `auth_session`, FIPA-30; `authorization_details`, RAR-6). */
const TOKEN_RESPONSE: SchemaObject = {
  type: 'object',
  required: ['access_token', 'token_type', 'expires_in', 'scope'],
  additionalProperties: false,
  properties: {
    access_token: {
      type: 'string',
      pattern: COMPACT_JWS,
      description:
        'An RFC 9068 JWT (`typ: at+jwt`): `iss`, `sub`, `aud`, `client_id`, `iat`, `exp`, `jti`, `scope`, `auth_session`, `cnf.jkt` when DPoP-bound; `acr`, `amr`, `auth_time` once a user authenticated; `authorization_details` when granted.',
    },
    token_type: { type: 'string', enum: ['DPoP', 'Bearer', 'PoP'], description: '`DPoP` when the request carried a proof (DPOP-17); `PoP` for a PoP token (seed 001, ACE-3).' },
    cnf: {
      type: 'object',
      description:
        'PoP tokens (ACE-3): `{"jwk": <the req_cnf key, with kid = its RFC 7638 thumbprint>}`, or the generated symmetric key `{"jwk": {"kty":"oct","alg":"HS256","k","kid"}}`; on refresh of a symmetric PoP token `{"kid"}` (the key is unchanged, ACE-5).',
    },
    rs_cnf: { type: 'object', description: 'RFC 9201 §3.2: `{"jwk": <the resource server public key>}` — every PoP token is for exactly one resource server (CONTRACT §6).' },
    expires_in: { type: 'integer', minimum: 1, description: 'Seconds (ACCESS_TOKEN_TTL_SECONDS).' },
    scope: { type: 'string', description: 'The granted scopes, plus `auth_session:<id>` when the token belongs to a session (as the seeds carry it).' },
    refresh_token: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$', description: 'Rotated on every use; bound to the session and, when DPoP was used, to the DPoP key.' },
    auth_session: ref('schemas', 'AuthSession'),
    authorization_details: ref('schemas', 'AuthorizationDetails'),
  },
};

const schemas: Record<string, SchemaObject> = { TokenResponse: TOKEN_RESPONSE };
for (const [name, schema] of Object.values(GRANT_REQUESTS)) schemas[name] = schema;

/** `POST /token` (CONTRACT §1, §4) with the suite's grants. */
export const tokenOpenApi: OpenApiFragment = {
  name: 'token endpoint',
  tags: [{ name: TOKEN_TAG, description: 'The token endpoint (RFC 6749 §3.2) and its grants: `fp_register`, `client_credentials`, `refresh_token`, `authorization_code`.' }],
  components: { schemas },
  paths: {
    '/token': {
      'x-service': 'token',
      post: {
        tags: [TOKEN_TAG],
        operationId: 'token',
        summary: 'Register a device, or get tokens with a grant',
        description: [
          'One map lookup on `grant_type` (an unknown one is `unsupported_grant_type`); each grant sees only the parameters it declares. The DPoP proof is checked before the client’s credentials, so the nonce challenge (`400 use_dpop_nonce` with `DPoP-Nonce`) spends nothing; proofs need the server’s nonce (DPOP-13/27), and clients registered with `dpop_bound_access_tokens` must send one (DPOP-19).',
          'Client authentication (`ClientAuthentication`) is required by every grant but `fp_register`; the client must be registered for the grant (`unauthorized_client`).',
        ].join('\n\n'),
        security: [{ client_secret_basic: [] }, {}],
        parameters: [ref('parameters', 'DPoPProof')],
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': {
              schema: {
                oneOf: Object.values(GRANT_REQUESTS).map(([name]) => ref('schemas', name)),
                discriminator: { propertyName: 'grant_type', mapping: Object.fromEntries(Object.entries(GRANT_REQUESTS).map(([grant, [name]]) => [grant, `#/components/schemas/${name}`])) },
              },
            },
          },
        },
        responses: {
          '200': jsonResponse('Tokens; or, for `fp_register`, the registration answer.', { oneOf: [ref('schemas', 'TokenResponse'), ref('schemas', 'DeviceRegistrationResponse')] }, { headers: { 'DPoP-Nonce': ref('headers', 'DPoPNonce') } }),
          '400': errorResponse(
            'RFC 6749 §5.2 (GEN-1), RFC 8707, RFC 9396, RFC 9449 and RFC 9200 §5.8.3 errors. `use_dpop_nonce` comes with `DPoP-Nonce`: repeat the request with a proof carrying it. `unsupported_pop_key`: the resource server of a PoP token cannot use that key type (ACE-4).',
            [...new Set([...DEVICE_REGISTRATION_ERRORS, 'invalid_grant', 'unsupported_grant_type', 'invalid_scope', 'invalid_target', 'invalid_authorization_details', 'invalid_dpop_proof', 'use_dpop_nonce', 'unsupported_pop_key'])],
            { headers: { 'DPoP-Nonce': ref('headers', 'DPoPNonce') } },
          ),
          '401': errorResponse('Client authentication failed: unknown or disabled client, bad secret or assertion, an assertion `jti` already used, an expired or foreign `device_auth_session` (JWTCA-8).', ['invalid_client'], {
            headers: { 'WWW-Authenticate': ref('headers', 'WWWAuthenticateBasic') },
          }),
          '429': errorResponse('`fp_register` only: too many registrations from this address.', ['slow_down'], { headers: { 'Retry-After': ref('headers', 'RetryAfterRequired') } }),
          ...BODY_PARSER_RESPONSES,
          ...FAULT_RESPONSES,
        },
      },
    },
  },
};
