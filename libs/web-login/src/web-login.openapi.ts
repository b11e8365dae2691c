import type { ParameterObject, ReferenceObject, ResponseObject, SchemaObject } from '@nestjs/swagger';
import { authorizationQueryParameters, REQUEST_URI_PARAMETER } from '@fpa/authz-request';
import { BODY_PARSER_RESPONSES, ERROR_DESCRIPTION, FAULT_RESPONSES, oauthErrorSchema, ref, type OpenApiFragment, type OpenApiHeader } from '@fpa/openapi';

export const WEB_LOGIN_TAG = 'browser login';

const html: SchemaObject = { type: 'string', description: 'A server-rendered page (no build step, no inline script or style).' };
const noStore = { 'Cache-Control': ref('headers', 'NoStore'), Pragma: ref('headers', 'PragmaNoCache') };
/** The pages' hardening (README "Binding and CSRF"): no caching, no framing, no referrer, scripts from 'self' only. */
const PAGE_HEADERS: Record<string, OpenApiHeader | ReferenceObject> = {
  ...noStore,
  'Content-Security-Policy': {
    description: 'Scripts, styles and form posts to `self` only (and a form action to the redirect URI’s origin), no framing.',
    required: true,
    schema: { type: 'string', pattern: "^default-src 'none'; script-src 'self'; style-src 'self';.*frame-ancestors 'none'" },
  },
  'X-Frame-Options': { description: '`DENY`.', required: true, schema: { type: 'string', enum: ['DENY'] } },
  'Referrer-Policy': { description: '`no-referrer`.', required: true, schema: { type: 'string', enum: ['no-referrer'] } },
};
const SET_COOKIE: OpenApiHeader = {
  description: 'When the browser had no login cookie: `fpa_login` (or `__Host-fpa_login; Secure` when the issuer is https), HttpOnly, SameSite=Lax — a random secret whose hash binds the flow to this browser.',
  schema: { type: 'string', pattern: '^(?:__Host-)?fpa_login=[A-Za-z0-9_-]{43}; Path=/; HttpOnly; SameSite=Lax(?:; Secure)?$' },
};

/** The error codes an authorization response carries (RFC 6749 §4.1.2.1, RFC 8707, RFC 9396, OIDC); others map to the nearest. */
const AUTHORIZATION_ERRORS = ['invalid_request', 'unauthorized_client', 'access_denied', 'unsupported_response_type', 'invalid_scope', 'server_error', 'temporarily_unavailable', 'invalid_target', 'invalid_authorization_details', 'login_required', 'consent_required'];
const iss: SchemaObject = { type: 'string', format: 'uri', description: 'The issuer (RFC 9207).' };
const state: SchemaObject = { type: 'string', description: 'The request’s `state`, when it had one.' };
/** RFC 6749 §4.1.2 / §4.1.2.1 with RFC 9207 `iss`, added to the registered redirect URI’s own query. */
const AUTHORIZATION_RESPONSE: SchemaObject = {
  oneOf: [
    { title: 'success', type: 'object', required: ['code', 'iss'], not: { required: ['error'] }, properties: { code: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$', description: 'Single use, redeemed at `/token` with this `redirect_uri` and the PKCE verifier.' }, state, iss } },
    { title: 'error', type: 'object', required: ['error', 'iss'], not: { required: ['code'] }, properties: { error: { type: 'string', enum: AUTHORIZATION_ERRORS }, error_description: { ...ERROR_DESCRIPTION, maxLength: 200 }, state, iss } },
  ],
};
const LOCATION: OpenApiHeader = { description: 'The registered redirect URI with the response parameters in its query.', required: true, schema: { type: 'string', format: 'uri' }, 'x-query-parameters': AUTHORIZATION_RESPONSE };
const REDIRECT: ResponseObject = {
  description: 'The authorization response, once the client and its redirect URI are known good: the code, or an error (RFC 6749 §4.1.2, RFC 9207). 303, so the browser follows with a GET.',
  headers: {
    Location: LOCATION,
    'Set-Cookie': SET_COOKIE,
    ...noStore,
  },
  // Express's redirect writes a one-line note with the link, in the type the Accept header prefers.
  content: { 'text/plain': { schema: { type: 'string' } }, 'text/html': { schema: { type: 'string' } } },
};
const page = (description: string, extra: Record<string, OpenApiHeader> = {}): ResponseObject => ({ description, headers: { ...PAGE_HEADERS, ...extra }, content: { 'text/html': { schema: html } } });

const { description: _requestUriDescription, ...REQUEST_URI_SCHEMA } = REQUEST_URI_PARAMETER;

const COOKIES: ParameterObject[] = ['fpa_login', '__Host-fpa_login'].map((name) => ({
  name,
  in: 'cookie',
  required: false,
  description: `The login cookie (${name === 'fpa_login' ? 'http issuers' : 'https issuers'}); set by \`GET /authorize\` when absent.`,
  schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' },
}));

/** `GET /authorize`, `POST /authorize/login` and the pages' assets, in the challenge service (CONTRACT §1). */
export const webLoginOpenApi: OpenApiFragment = {
  name: 'browser login',
  tags: [{ name: WEB_LOGIN_TAG, description: 'The browser authorization endpoint (RFC 6749 §4.1, PKCE, RFC 9207, RFC 9126 §4) and its hosted login: the challenge modules of `/authorize-challenge` behind HTML pages, bound to the browser by a cookie and a CSRF token.' }],
  paths: {
    '/authorize': {
      'x-service': 'challenge',
      get: {
        tags: [WEB_LOGIN_TAG],
        operationId: 'authorize',
        summary: 'Start a browser sign-in',
        description: [
          'The authorization parameters, or `client_id` and a `request_uri` from `POST /par` (or from `redirect_to_web`) instead of them — required when REQUIRE_PUSHED_AUTHORIZATION_REQUESTS or the client’s `require_pushed_authorization_requests` is set. A parameter sent twice is refused.',
          'Until the client and its redirect URI are known good the error is a page and nobody is redirected (RFC 6749 §4.1.2.1); after, a 303 to the redirect URI with `error`. A client that is not `first_party`, or `prompt=consent`, gets a consent page before the code.',
        ].join('\n\n'),
        security: [{}],
        parameters: [
          ...authorizationQueryParameters(['client_id']).map((p) => (p.name === 'client_id' ? p : { ...p, description: `${p.description ?? ''} Required unless \`request_uri\` is sent (\`redirect_uri\`, \`response_type\`, \`code_challenge\`, \`code_challenge_method\`).`.trim() })),
          { name: 'request_uri', in: 'query', required: false, description: REQUEST_URI_PARAMETER.description, schema: REQUEST_URI_SCHEMA },
          ...COOKIES,
        ],
        responses: {
          '200': page('The sign-in page (the methods the client’s policy offers) or the consent page.', { 'Set-Cookie': SET_COOKIE }),
          '303': REDIRECT,
          '400': page('The request cannot be trusted enough to redirect: unknown client, missing or unregistered redirect URI, a used, expired or foreign `request_uri`, a repeated parameter, characters that are not allowed.'),
          ...FAULT_RESPONSES,
        },
      },
    },
    '/authorize/login': {
      'x-service': 'challenge',
      post: {
        tags: [WEB_LOGIN_TAG],
        operationId: 'authorizeLogin',
        summary: 'Answer the sign-in page (a form post)',
        description: 'One step of the sign-in: begin a method, answer it, add a credential, approve or deny consent, or cancel. Only from the browser that started it (the login cookie) and with the page’s CSRF token.',
        security: [{}],
        parameters: COOKIES,
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': {
              schema: {
                type: 'object',
                required: ['interaction', 'csrf'],
                description: 'The fields of the page’s forms; a challenge module’s own parameters travel the same way.',
                properties: {
                  interaction: { type: 'string', maxLength: 128, description: 'The sign-in this page belongs to.' },
                  csrf: { type: 'string', maxLength: 64, description: 'HMAC of the interaction and the login cookie’s secret.' },
                  challenge_type: { type: 'string', maxLength: 64, description: 'Begin this method (e.g. `email_otp`, `sms_otp`, `totp`, `passkey`).' },
                  email: { type: 'string', maxLength: 320, description: 'Where `email_otp` sends its code.' },
                  phone: { type: 'string', maxLength: 32, description: 'Where `sms_otp` sends its code (E.164).' },
                  code: { type: 'string', maxLength: 32, description: 'The one-time code.' },
                  credential: { type: 'string', maxLength: 16384, description: 'A WebAuthn response (PublicKeyCredential JSON), from the page’s script.' },
                  action: { type: 'string', maxLength: 32, description: '`resend`, or a module’s enrolment action (`enroll`, `register`).' },
                  consent: { type: 'string', enum: ['approve', 'deny'], description: 'The consent page’s answer; `deny` is `access_denied`.' },
                  cancel: { type: 'string', description: 'Present: give up; the client gets `access_denied`.' },
                },
              },
            },
          },
        },
        responses: {
          '200': page('The next page, or the same one with what went wrong (a wrong code, a code sent too soon).'),
          '303': REDIRECT,
          '400': {
            description: 'A page when the sign-in has expired or the form repeats a field or has characters that are not allowed; JSON `invalid_request` when the body is not form-encoded.',
            headers: noStore,
            content: { 'text/html': { schema: html }, 'application/json': { schema: oauthErrorSchema(['invalid_request']) } },
          },
          '403': page('The form came from another browser (no or another login cookie), or without its CSRF token. Nothing changes.'),
          ...BODY_PARSER_RESPONSES,
          ...FAULT_RESPONSES,
        },
      },
    },
    '/authorize/assets/{name}': {
      'x-service': 'challenge',
      get: {
        tags: [WEB_LOGIN_TAG],
        operationId: 'authorizeAsset',
        summary: 'The pages’ script and style',
        description: '`webauthn.js` is `@simplewebauthn/browser` from the installed package.',
        security: [{}],
        parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string', enum: ['login.js', 'login.css', 'webauthn.js'] } }],
        responses: {
          '200': {
            description: 'The asset.',
            headers: { 'Cache-Control': { required: true, schema: { type: 'string', enum: ['public, max-age=3600'] } } },
            content: { 'text/javascript': { schema: { type: 'string' } }, 'text/css': { schema: { type: 'string' } } },
          },
          '404': { description: 'No such asset.', headers: noStore, content: { 'application/json': { schema: oauthErrorSchema(['not_found']) } } },
        },
      },
    },
  },
};

