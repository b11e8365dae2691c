import { BODY_PARSER_RESPONSES, COMPACT_JWS, errorResponse, FAULT_RESPONSES, jsonResponse, ref, type OpenApiFragment } from '@fpa/openapi';
import type { SchemaObject } from '@nestjs/swagger';
import type { REGISTRATION_PARAMS } from './device-registration.service';

export const REGISTRATION_TAG = 'device registration';

/** The parameters of a registration request (REGISTRATION_PARAMS), for `/register` and `grant_type=fp_register`. */
export const DEVICE_REGISTRATION_PARAMETERS = {
  client_id: { type: 'string', maxLength: 1024, description: 'A public first-party client allowed to use `fp_register` (FIPA-1); another is `unauthorized_client`, an unknown one `invalid_client`.' },
  public_key: {
    type: 'string',
    maxLength: 16384,
    description: 'The device’s public key (CONTRACT §3): a public JWK as JSON — EC P-256, Ed25519 (OKP) or RSA of at least 2048 bits — or a PEM SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`). Private members, another curve, a weak or malformed key are `invalid_request`; nothing is stored.',
    example: '{"kty":"EC","crv":"P-256","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"}',
  },
  alg: { type: 'string', enum: ['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256', 'RS384', 'PS384', 'RS512', 'PS512'], description: 'The algorithm the device will sign its assertions with; must fit the key (default: the first one that does).' },
  state: { type: 'string', maxLength: 512, pattern: '^[^\\x00-\\x1f]*$', description: 'Echoed in the response.' },
  nonce: { type: 'string', maxLength: 512, pattern: '^[^\\x00-\\x1f]*$', description: 'Echoed in the `fp_token`’s `nonce` claim.' },
} satisfies Record<(typeof REGISTRATION_PARAMS)[number], SchemaObject>;

/** Seed 000 (A)/(B), seed 004, CONTRACT §3. */
export const DEVICE_REGISTRATION_RESPONSE: SchemaObject = {
  type: 'object',
  required: ['fp_token', 'token_type', 'auth_session', 'expires_in'],
  additionalProperties: false,
  properties: {
    fp_token: {
      type: 'string',
      pattern: COMPACT_JWS,
      description: 'A JWT signed by the suite (`typ: fp+jwt`): `iss`, `aud` (= client_id), `iat`, `nbf`, `exp`, `auth_session`, `nonce` (echoed), `cnf.jkt` (the device key’s RFC 7638 thumbprint).',
    },
    token_type: { type: 'string', enum: ['fp+jwt'] },
    auth_session: ref('schemas', 'AuthSession'),
    state: { type: 'string', description: 'The request’s `state`.' },
    expires_in: { type: 'integer', minimum: 1, description: 'Lifetime of the `fp_token` in seconds (FP_TOKEN_TTL_SECONDS); the `auth_session` lives DEVICE_SESSION_TTL_SECONDS.' },
  },
};

/** The refusals of a registration request, at `/register` and in the `fp_register` grant. */
export const DEVICE_REGISTRATION_ERRORS = ['invalid_request', 'unauthorized_client'] as const;

/** `POST /register` — the device registration endpoint (CONTRACT §1, §3; metadata `device_registration_endpoint`). */
export const registrationOpenApi: OpenApiFragment = {
  name: 'device registration',
  tags: [{ name: REGISTRATION_TAG, description: 'Seeds 000 (A)/(B) and 004: an app registers its device key and gets an `auth_session` inside a signed `fp+jwt`. Also at `/token` as `grant_type=fp_register`.' }],
  components: {
    schemas: {
      DeviceRegistrationRequest: { type: 'object', required: ['client_id', 'public_key'], properties: DEVICE_REGISTRATION_PARAMETERS },
      DeviceRegistrationResponse: DEVICE_REGISTRATION_RESPONSE,
    },
  },
  paths: {
    '/register': {
      'x-service': 'registration',
      post: {
        tags: [REGISTRATION_TAG],
        operationId: 'registerDevice',
        summary: 'Register a device key; get an auth_session in a signed fp+jwt',
        description:
          'The client does not authenticate: it is public, and the key it registers is what later authenticates the device (`private_key_jwt` with `device_auth_session`, CONTRACT §4). Rate limited per client IP (an IPv6 client by its /64): `429 slow_down`. Every refusal happens before anything is stored.',
        security: [{}],
        requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: ref('schemas', 'DeviceRegistrationRequest') } } },
        responses: {
          '200': jsonResponse('Registered.', ref('schemas', 'DeviceRegistrationResponse')),
          '400': errorResponse('A missing or unusable parameter or key (`invalid_request`), or a client that may not register devices (`unauthorized_client`).', DEVICE_REGISTRATION_ERRORS),
          '401': errorResponse('Unknown or disabled client.', ['invalid_client'], { headers: { 'WWW-Authenticate': ref('headers', 'WWWAuthenticateBasic') } }),
          '429': errorResponse('Too many registrations from this address (REGISTRATION_RATE_LIMIT per REGISTRATION_RATE_WINDOW_SECONDS).', ['slow_down'], { headers: { 'Retry-After': ref('headers', 'RetryAfterRequired') } }),
          ...BODY_PARSER_RESPONSES,
          ...FAULT_RESPONSES,
        },
      },
    },
  },
};
