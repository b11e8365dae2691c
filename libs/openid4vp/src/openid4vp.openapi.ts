import { BODY_PARSER_RESPONSES, errorResponse, FAULT_RESPONSES, jsonResponse, type OpenApiFragment } from '@fpa/openapi';

export const OPENID4VP_TAG = 'openid4vp';

const ID = { name: 'id', in: 'path', required: true, description: 'The presentation request (from the `request_uri` of a `credentials_request` link).', schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{32}$' } } as const;
const REQUEST_OBJECT = {
  description: 'The signed request object (VP-2): a JWS, `typ: oauth-authz-req+jwt`, ES256 with the verifier certificate chain in `x5c` (client identifier `x509_san_dns:<host>`); `wallet_nonce` echoed when sent.',
  headers: { 'Cache-Control': { description: '`no-store`.', schema: { type: 'string' } } },
  content: { 'application/oauth-authz-req+jwt': { schema: { type: 'string' } } },
};
const EXPIRED = errorResponse('The request is unknown or expired (a request object is never served after its request expired), or `wallet_nonce` is malformed.', ['invalid_request']);

/**
 * The wallet's endpoints of the `digital_credential` method (issue 11, OpenID4VP 1.0 §5.10 and
 * §8.2; docs/digital-credentials.md): served wherever the method is registered (challenge service,
 * standalone).
 */
export const openid4vpOpenApi: OpenApiFragment = {
  name: 'openid4vp',
  tags: [{ name: OPENID4VP_TAG, description: 'OpenID for Verifiable Presentations 1.0: the suite as verifier, for wallets (docs/digital-credentials.md).' }],
  paths: {
    '/openid4vp/requests/{id}': {
      'x-service': 'challenge',
      get: { tags: [OPENID4VP_TAG], operationId: 'openid4vpRequestObject', summary: 'A wallet fetches the request object', parameters: [ID], responses: { '200': REQUEST_OBJECT, '400': EXPIRED, ...FAULT_RESPONSES } },
      post: {
        tags: [OPENID4VP_TAG],
        operationId: 'openid4vpRequestObjectPost',
        summary: 'A wallet fetches the request object (`request_uri_method=post`)',
        parameters: [ID],
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': {
              schema: { type: 'object', properties: { wallet_nonce: { type: 'string', maxLength: 256, description: 'Echoed in the request object (VP-2).' }, wallet_metadata: { type: 'string', description: 'The wallet’s metadata (JSON); read for nothing yet.' } } },
            },
          },
        },
        responses: { '200': REQUEST_OBJECT, '400': EXPIRED, ...BODY_PARSER_RESPONSES, ...FAULT_RESPONSES },
      },
    },
    '/openid4vp/response': {
      'x-service': 'challenge',
      post: {
        tags: [OPENID4VP_TAG],
        operationId: 'openid4vpResponse',
        summary: 'A wallet posts its response (`direct_post` / `direct_post.jwt`)',
        description: [
          'VP-3: `direct_post` sends `vp_token` (JSON: DCQL credential query id → presentations) and `state`; `direct_post.jwt` sends `response`, a JWE (`ECDH-ES`, `A128GCM`/`A256GCM`) to the request’s key whose plaintext is `{vp_token, state}`. The wallet may send `error` instead.',
          'A request accepts one response (claimed atomically before verification). The app never gets its code from here: cross device, its next poll does; same device, it posts the `response_code` carried by `redirect_uri`.',
        ].join('\n\n'),
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': {
              schema: {
                type: 'object',
                properties: {
                  vp_token: { type: 'string', description: 'JSON object (direct_post).' },
                  state: { type: 'string' },
                  response: { type: 'string', description: 'Compact JWE (direct_post.jwt).' },
                  error: { type: 'string' },
                  error_description: { type: 'string' },
                },
              },
            },
          },
        },
        responses: {
          '200': jsonResponse('Accepted. Same device: `redirect_uri` = the app’s `openid4vp_redirect_uri#response_code=…`; cross device: `{}`.', { type: 'object', properties: { redirect_uri: { type: 'string', format: 'uri' } } }),
          '400': errorResponse('Unknown or expired request, already answered, wrong response mode, a response that does not decrypt with the request’s key, or a presentation refused (the description names the check).', [
            'invalid_request',
            'access_denied',
            'invalid_transaction_data',
            'vp_formats_not_supported',
            'invalid_session',
          ]),
          ...BODY_PARSER_RESPONSES,
          ...FAULT_RESPONSES,
        },
      },
    },
  },
};
