import { BODY_PARSER_RESPONSES, errorResponse, FAULT_RESPONSES, jsonResponse, ref, type OpenApiFragment } from '@fpa/openapi';

export const FEDERATION_TAG = 'federation';

const SESSION = { type: 'string', description: 'The auth_session of the flow (FIPA-17).' } as const;

/**
 * The federation service's endpoints (CONTRACT §1, issue 10): the `response_uri` of a `federate`
 * answer (FED-12) and the key set a downstream server registers for the suite's client assertions.
 */
export const federationOpenApi: OpenApiFragment = {
  name: 'federation',
  tags: [{ name: FEDERATION_TAG, description: 'draft-zehavi-oauth-native-clients-federation: the suite as the federating server (docs/federation.md).' }],
  paths: {
    '/federation/callback': {
      'x-service': 'federation',
      post: {
        tags: [FEDERATION_TAG],
        operationId: 'federationCallback',
        summary: 'Hand the downstream server’s answer back; get this server’s FiPA answer',
        description: [
          'FED-12: the `response_uri` of a `federate` answer. The app posts what the downstream native endpoint answered (`authorization_code`, or its `error`) with its `auth_session` and a DPoP proof of the session’s key (FIPA-26).',
          'The suite redeems the code once at the downstream’s token endpoint (its own private_key_jwt, DPoP key and PKCE verifier), links the downstream user to a local one and records the authentication (`amr` with `fed`). The answer is the native endpoint’s: **200** with this server’s `authorization_code`, or **403** with what local policy still needs. The downstream unreachable, slow or answering garbage: **503**, and the same code may be posted again (it was not redeemed).',
        ].join('\n\n'),
        parameters: [ref('parameters', 'DPoPProof')],
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': {
              schema: {
                type: 'object',
                required: ['auth_session'],
                properties: {
                  auth_session: SESSION,
                  authorization_code: { type: 'string', maxLength: 2048, description: 'The downstream server’s code.' },
                  error: { type: 'string', description: 'The downstream server’s error, forwarded (FED-13).' },
                  error_description: { type: 'string' },
                },
              },
            },
          },
        },
        responses: {
          '200': jsonResponse('This server’s authorization code (FIPA-16).', ref('schemas', 'AuthorizationCodeResponseDto'), { headers: { 'DPoP-Nonce': ref('headers', 'DPoPNonce') } }),
          '400': errorResponse(
            'No federation waiting for this session (a code is accepted once), an `auth_session` or DPoP key of another session (`invalid_session`), a code the downstream refused (`invalid_grant`), the downstream’s own error forwarded (`access_denied` with `downstream_error`), or a nonce to use.',
            ['invalid_request', 'invalid_session', 'invalid_grant', 'access_denied', 'invalid_dpop_proof', 'use_dpop_nonce'],
            { headers: { 'DPoP-Nonce': ref('headers', 'DPoPNonce') }, extra: { auth_session: SESSION, downstream_error: { type: 'string' } } },
          ),
          '403': jsonResponse('More is needed by local policy (FIPA-19).', ref('schemas', 'InsufficientAuthorizationDto'), { headers: { 'DPoP-Nonce': ref('headers', 'DPoPNonce') } }),
          '429': errorResponse('Rate limited.', ['slow_down'], { extra: { auth_session: SESSION } }),
          ...BODY_PARSER_RESPONSES,
          ...FAULT_RESPONSES,
        },
      },
    },
    '/federation/jwks': {
      'x-service': 'federation',
      get: {
        tags: [FEDERATION_TAG],
        operationId: 'federationJwks',
        summary: 'The public key of the suite’s client assertions at downstream servers',
        description: 'RFC 7517 JWK Set: register this URL as the suite’s `jwks_uri` at a downstream server (RFC 7591), where the suite is a `private_key_jwt` client (FED-11). Public members only; the suite’s DPoP key is not here (each proof carries it).',
        responses: {
          '200': jsonResponse(
            'The key set.',
            { type: 'object', required: ['keys'], properties: { keys: { type: 'array', items: { type: 'object', required: ['kty', 'kid'], not: { anyOf: ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'].map((m) => ({ required: [m] })) } } } } },
            { cache: false, headers: { 'Cache-Control': { description: '`public, max-age=300`.', schema: { type: 'string' } } } },
          ),
          ...FAULT_RESPONSES,
        },
      },
    },
  },
};
