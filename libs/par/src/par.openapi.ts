import { BODY_PARSER_RESPONSES, CLIENT_AUTHENTICATION, errorResponse, FAULT_RESPONSES, jsonResponse, ref, type OpenApiFragment } from '@fpa/openapi';
import { AUTHORIZATION_REQUEST_PARAMETERS } from '@fpa/authz-request';

export const PAR_TAG = 'pushed authorization requests';

/** `POST /par` (RFC 9126, CONTRACT §1, PAR-1…10) in the token service; its parameters are the ones `GET /authorize` takes. */
export const parOpenApi: OpenApiFragment = {
  name: 'pushed authorization requests',
  tags: [{ name: PAR_TAG, description: 'RFC 9126: a client pushes its authorization request and opens `GET /authorize?client_id=…&request_uri=…` with the reference it gets back.' }],
  paths: {
    '/par': {
      'x-service': 'token',
      post: {
        tags: [PAR_TAG],
        operationId: 'pushAuthorizationRequest',
        summary: 'Push an authorization request; get a single-use request_uri',
        description: [
          'RFC 9126 §2. The client authenticates as at the token endpoint (PAR-3): a confidential client with its secret or `private_key_jwt`, a public client with `client_id` alone. Every authorization parameter is validated as the authorization endpoint would (PAR-5) and the validated request is kept behind an unguessable `request_uri`, bound to this client, single use (PAR-7).',
          'A DPoP proof binds the future code to its key as if its thumbprint were sent as `dpop_jkt` (RFC 9449 §10.1); both, disagreeing, are `invalid_request` (DPOP-31). `request_uri` in the body is `invalid_request` (PAR-2); a request object (`request`, RFC 9101) is `request_not_supported`. A refused request stores nothing. Other methods than POST are `405 method_not_allowed`.',
        ].join('\n\n'),
        security: [{ client_secret_basic: [] }, {}],
        parameters: [ref('parameters', 'DPoPProof')],
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': {
              schema: {
                allOf: [
                  CLIENT_AUTHENTICATION,
                  {
                    type: 'object',
                    required: ['response_type', 'client_id', 'code_challenge', 'code_challenge_method'],
                    properties: AUTHORIZATION_REQUEST_PARAMETERS,
                    description: '`redirect_uri` is required unless the client registered none (a native app whose pushed request is consumed at `/authorize-challenge`).',
                  },
                ],
              },
            },
          },
        },
        responses: {
          '201': jsonResponse(
            'Pushed (PAR-6).',
            {
              type: 'object',
              required: ['request_uri', 'expires_in'],
              additionalProperties: false,
              properties: {
                request_uri: { type: 'string', pattern: '^urn:ietf:params:oauth:request_uri:[A-Za-z0-9_-]{43}$', description: 'Use it once, at `GET /authorize`, with this client’s `client_id` (PAR-10).' },
                expires_in: { type: 'integer', minimum: 1, maximum: 600, description: 'Seconds (`PAR_REQUEST_URI_TTL_SECONDS`).' },
              },
            },
            { headers: { 'DPoP-Nonce': ref('headers', 'DPoPNonce') } },
          ),
          '400': errorResponse(
            'A parameter the authorization endpoint would refuse, a request the client may not make, or a DPoP proof to correct (`invalid_dpop_proof`) or to repeat with the nonce (`use_dpop_nonce`, with `DPoP-Nonce`).',
            ['invalid_request', 'unauthorized_client', 'unsupported_response_type', 'invalid_scope', 'invalid_target', 'invalid_authorization_details', 'request_not_supported', 'invalid_dpop_proof', 'use_dpop_nonce'],
            { headers: { 'DPoP-Nonce': ref('headers', 'DPoPNonce') } },
          ),
          '401': errorResponse('Client authentication failed (PAR-3).', ['invalid_client'], { headers: { 'WWW-Authenticate': ref('headers', 'WWWAuthenticateBasic') } }),
          ...BODY_PARSER_RESPONSES,
          ...FAULT_RESPONSES,
        },
      },
    },
  },
};
