import type { ParameterObject, SchemaObject } from '@nestjs/swagger';

const B64URL_SHA256 = '^[A-Za-z0-9_-]{43}$';

/**
 * The authorization request parameters (RFC 6749 §4.1.1, RFC 7636, RFC 8707, RFC 9396, RFC 9449 §10,
 * OIDC, FED-3) with the constraints `parseAuthorizationRequest` enforces — one list for every place
 * a request can be made: the query of `GET /authorize` and the body of `POST /par`.
 */
export const AUTHORIZATION_REQUEST_PARAMETERS = {
  response_type: { type: 'string', enum: ['code'], description: 'Must be `code` (another value is `unsupported_response_type`).' },
  client_id: { type: 'string', maxLength: 128, description: 'The client (RFC 6749 §2.2).' },
  redirect_uri: {
    type: 'string',
    maxLength: 2048,
    format: 'uri',
    description: 'Exactly one of the client’s registered redirect URIs (RFC 9700 §2.1; only the port of an http loopback IP literal may differ, RFC 8252 §7.3). Never a per-request URI, at PAR neither (PAR-9).',
  },
  scope: { type: 'string', maxLength: 1024, description: 'Space-delimited scopes (RFC 6749 §3.3), each one the client may ask for (`invalid_scope` otherwise). Default: the client’s scopes.' },
  state: { type: 'string', pattern: '^[\\x20-\\x7E]{1,512}$', description: 'Echoed in the authorization response: printable ASCII, at most 512 characters.' },
  code_challenge: { type: 'string', pattern: B64URL_SHA256, description: 'RFC 7636 S256 challenge, base64url(SHA-256(code_verifier)). Required (GEN-2, RFC 9700 §2.1.1).' },
  code_challenge_method: { type: 'string', enum: ['S256'], description: 'Must be `S256`; `plain` (also the default when absent) is refused (GEN-2).' },
  resource: { type: 'string', maxLength: 512, format: 'uri', description: 'RFC 8707 resource indicator without fragment, one the client may use (`invalid_target` otherwise): the access token’s audience.' },
  authorization_details: {
    type: 'string',
    maxLength: 8192,
    description: 'RFC 9396 (RAR-1): a JSON array of at most 10 objects, each of a `type` this deployment declares and the client may request, valid against that type’s schema (`invalid_authorization_details` otherwise, RAR-4).',
    example: '[{"type":"account_information","actions":["read_balances"]}]',
  },
  dpop_jkt: { type: 'string', pattern: B64URL_SHA256, description: 'RFC 9449 §10: the RFC 7638 thumbprint of the DPoP key the code will be bound to.' },
  login_hint: { type: 'string', maxLength: 320, description: 'An e-mail address or phone number: picks and fills the matching one-time-code method.' },
  acr_values: { type: 'string', maxLength: 1024, description: 'Requested authentication context classes, space-separated, in preference order (`acr_values_supported`); an unknown value is `invalid_request`.' },
  max_age: { type: 'string', pattern: '^\\d{1,9}$', description: 'Maximum authentication age in seconds (OIDC): older authentications of the session do not count.' },
  prompt: {
    type: 'string',
    maxLength: 64,
    pattern: '^(?:login|consent|none)(?: +(?:login|consent|none))*$',
    description: 'OIDC `prompt`: `login` (authenticate again), `consent` (show the consent page), `none` (no interaction: `login_required`); `none` combines with nothing.',
  },
  native_callback_uri: { type: 'string', maxLength: 2048, format: 'uri', description: 'FED-3: the app’s claimed-HTTPS link another app hands a response back to (no fragment); must be trusted for the client — on its `native_callback_uris` allow-list, or by a further trust policy (FED-4). Ignored by the browser endpoint.' },
} satisfies Record<string, SchemaObject>;

export type AuthorizationParameterName = keyof typeof AUTHORIZATION_REQUEST_PARAMETERS;

/** RFC 9126 §4: a pushed request (PAR, or a `redirect_to_web` answer of the challenge endpoint) instead of the parameters. */
export const REQUEST_URI_PARAMETER: SchemaObject = {
  type: 'string',
  pattern: '^urn:ietf:params:oauth:request_uri:[A-Za-z0-9_-]{43}$',
  description: 'A `request_uri` from `POST /par` or from a `redirect_to_web` answer: single use, short-lived (`PAR_REQUEST_URI_TTL_SECONDS`), only by the client that pushed it (PAR-7, PAR-10).',
};

/** The parameters as `in: query` parameters of a GET authorization request. */
export function authorizationQueryParameters(required: readonly AuthorizationParameterName[]): ParameterObject[] {
  return (Object.entries(AUTHORIZATION_REQUEST_PARAMETERS) as [AuthorizationParameterName, SchemaObject][]).map(([name, schema]) => {
    const { description, ...rest } = schema;
    return { name, in: 'query', required: required.includes(name), description, schema: rest };
  });
}
