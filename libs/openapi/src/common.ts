import type { ComponentsObject, ParameterObject, ReferenceObject, ResponseObject, SchemaObject } from '@nestjs/swagger';
import type { OpenApiFragment, OpenApiHeader } from './fragment';

/** A local reference to a component of the suite's document. */
export function ref(kind: keyof ComponentsObject, name: string): ReferenceObject {
  return { $ref: `#/components/${kind}/${name}` };
}

/** RFC 6749 §5.2: `error_description` is limited to %x20-21 / %x23-5B / %x5D-7E (OAuthError sanitizes and cuts it at 300). */
export const ERROR_DESCRIPTION: SchemaObject = {
  type: 'string',
  maxLength: 300,
  pattern: '^[\\x20-\\x21\\x23-\\x5B\\x5D-\\x7E]*$',
  description: 'Human-readable, printable ASCII without `"` and `\\` (RFC 6749 §5.2).',
};

/**
 * An RFC 6749 §5.2 error body (CONTRACT §2) with exactly these `error` codes and members: `error`,
 * `error_description` (never for `server_error`), and the members a draft adds (`extra`).
 */
export function oauthErrorSchema(codes: readonly string[], extra: Record<string, SchemaObject | ReferenceObject> = {}): SchemaObject {
  return {
    type: 'object',
    required: ['error'],
    additionalProperties: false,
    properties: { error: { type: 'string', enum: [...codes] }, error_description: ref('schemas', 'ErrorDescription'), ...extra },
  };
}

/** `Cache-Control: no-store` and `Pragma: no-cache`: on every JSON answer of the authorization server (RFC 6749 §5.1, GEN-1). */
export const NO_STORE_HEADERS: Record<string, ReferenceObject> = { 'Cache-Control': ref('headers', 'NoStore'), Pragma: ref('headers', 'PragmaNoCache') };

export interface JsonResponseOptions {
  readonly headers?: Record<string, OpenApiHeader | ReferenceObject>;
  /** Default: the no-store pair. */
  readonly cache?: false;
}

/** A JSON response (`application/json`). */
export function jsonResponse(description: string, schema: SchemaObject | ReferenceObject, options: JsonResponseOptions = {}): ResponseObject {
  return {
    description,
    headers: { ...(options.cache === false ? {} : NO_STORE_HEADERS), ...(options.headers ?? {}) },
    content: { 'application/json': { schema } },
  };
}

/** An OAuth error response with the codes this endpoint answers at this status. */
export function errorResponse(description: string, codes: readonly string[], options: JsonResponseOptions & { readonly extra?: Record<string, SchemaObject | ReferenceObject> } = {}): ResponseObject {
  return jsonResponse(description, oauthErrorSchema(codes, options.extra), options);
}

/** Statuses every endpoint with a form body can answer, whatever its logic (the body parser, the exception filter). */
export const BODY_PARSER_RESPONSES: Record<string, ReferenceObject> = {
  '413': ref('responses', 'RequestTooLarge'),
  '415': ref('responses', 'UnsupportedEncoding'),
};
/** A fault (500) or a store that cannot be reached (503), at every endpoint. */
export const FAULT_RESPONSES: Record<string, ReferenceObject> = {
  '500': ref('responses', 'ServerError'),
  '503': ref('responses', 'TemporarilyUnavailable'),
};

/** base64url without padding. */
export const BASE64URL = '^[A-Za-z0-9_-]+$';
/** A compact JWS (RFC 7515 §7.1). */
export const COMPACT_JWS = '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*$';

const CLIENT_AUTH_PARAMETERS: Record<string, SchemaObject> = {
  client_id: { type: 'string', maxLength: 1024, description: 'The client. Required for `client_secret_post` and public clients (`none`); with another method it must name the authenticated client (RFC 6749 §2.3.1, JWTCA-1).' },
  client_secret: { type: 'string', maxLength: 1024, description: '`client_secret_post` (RFC 6749 §2.3.1).' },
  client_assertion_type: { type: 'string', enum: ['urn:ietf:params:oauth:client-assertion-type:jwt-bearer'], description: '`private_key_jwt` (RFC 7523 §2.2).' },
  client_assertion: {
    type: 'string',
    pattern: COMPACT_JWS,
    description:
      '`private_key_jwt`: a JWT signed by the client — by a registered device’s key, naming its session in `device_auth_session` (CONTRACT §4). `iss` = `sub` = client_id, `aud` = the issuer (JWTCA-9; the endpoint URL too for clients with `assertion_audience: issuer_or_endpoint`), `exp` at most 5 minutes ahead, `jti` single use across every endpoint (JWTCA-7), `typ` absent, `JWT` or `client-authentication+jwt`.',
  },
};
const NO_BODY_CREDENTIALS: SchemaObject = { not: { anyOf: [{ required: ['client_secret'] }, { required: ['client_assertion'] }] } };

/** The suite's shared components: error shapes, cache and DPoP headers, client authentication. */
export const COMMON_OPENAPI: OpenApiFragment = {
  name: 'common',
  paths: {},
  components: {
    schemas: {
      ErrorDescription: ERROR_DESCRIPTION,
      AuthSession: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$', description: 'An `auth_session`: 256 random bits, base64url (FIPA-23/24). Opaque to clients.' },
      AuthorizationDetails: {
        type: 'array',
        minItems: 1,
        description: 'RFC 9396 authorization details: objects whose `type` is one the deployment declares (`authorization_details_types_supported`), each valid against its type’s schema (RAR-1/RAR-4).',
        items: { type: 'object', required: ['type'], properties: { type: { type: 'string', minLength: 1, maxLength: 128 } }, additionalProperties: true },
      },
      ClientAuthentication: {
        type: 'object',
        description:
          'Client authentication (RFC 6749 §2.3, RFC 7523): exactly one method per request — `Authorization: Basic` (`client_secret_basic`), `client_id` + `client_secret` in the body (`client_secret_post`), `client_assertion` (`private_key_jwt`), or, for a public client, `client_id` alone (`none`). Two methods at once are `invalid_request`; every failure is `401 invalid_client` (with `WWW-Authenticate: Basic` when the Authorization header was used).',
        properties: CLIENT_AUTH_PARAMETERS,
        anyOf: [
          { title: 'client_secret_basic', description: 'Credentials in `Authorization: Basic` (form-urlencoded id and secret, RFC 6749 §2.3.1).', ...NO_BODY_CREDENTIALS },
          { title: 'client_secret_post', required: ['client_id', 'client_secret'] },
          { title: 'private_key_jwt', required: ['client_assertion_type', 'client_assertion'] },
          { title: 'none', description: 'A public client names itself.', required: ['client_id'], ...NO_BODY_CREDENTIALS },
        ],
      },
    },
    headers: {
      NoStore: { description: '`no-store` (RFC 6749 §5.1, CONTRACT §2).', required: true, schema: { type: 'string', enum: ['no-store'] } },
      PragmaNoCache: { description: '`no-cache`, for HTTP/1.0 caches.', required: true, schema: { type: 'string', enum: ['no-cache'] } },
      DPoPNonce: { description: 'The current DPoP nonce: put it in the next proof (RFC 9449 §8, DPOP-27). Sent whenever the request carried a proof.', schema: { type: 'string', pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$' } },
      DPoPNonceChallenge: { description: 'The nonce to put in the proof of the repeated request (RFC 9449 §8).', required: true, schema: { type: 'string', pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$' } },
      RetryAfter: { description: 'Seconds to wait before retrying.', schema: { type: 'string', pattern: '^\\d+$' } },
      RetryAfterRequired: { description: 'Seconds to wait before retrying.', required: true, schema: { type: 'string', pattern: '^\\d+$' } },
      WWWAuthenticateBasic: { description: 'When the request used `Authorization: Basic`: the Basic challenge (RFC 6749 §5.2, GEN-1).', schema: { type: 'string', pattern: '^Basic realm="[^"]*"$' } },
    },
    parameters: {
      DPoPProof: {
        name: 'DPoP',
        in: 'header',
        required: false,
        description: 'A DPoP proof (RFC 9449 §4): `typ: dpop+jwt`, an allowed asymmetric `alg` (`dpop_signing_alg_values_supported`), the public `jwk`; `htm` = POST, `htu` = this endpoint’s URL under the issuer, a fresh `iat`, a single-use `jti`, and the server’s `nonce` (a proof without it is answered `use_dpop_nonce`).',
        schema: { type: 'string', pattern: COMPACT_JWS },
      } satisfies ParameterObject,
    },
    securitySchemes: {
      client_secret_basic: { type: 'http', scheme: 'basic', description: 'RFC 6749 §2.3.1: client_id and client_secret, each form-urlencoded, as Basic credentials.' },
    },
    responses: {
      RequestTooLarge: errorResponse('The body is over 64 kB or has over 100 parameters.', ['invalid_request']),
      UnsupportedEncoding: errorResponse('A charset or Content-Encoding the server does not read.', ['invalid_request']),
      ServerError: jsonResponse('An unexpected fault, logged with the request id; nothing more is said (CONTRACT §2).', oauthErrorSchema(['server_error'])),
      TemporarilyUnavailable: errorResponse('PostgreSQL or Redis cannot be reached, or revocation data is being restored after Redis lost its data; retry after `Retry-After`.', ['temporarily_unavailable'], {
        headers: { 'Retry-After': ref('headers', 'RetryAfter') },
      }),
    },
  },
};

/** Request-body properties for client authentication, to list beside an endpoint's own parameters. */
export const CLIENT_AUTHENTICATION = ref('schemas', 'ClientAuthentication');
