import type { INestApplication } from '@nestjs/common';
import { SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { COMMON_OPENAPI } from './common';
import type { OpenApiContribution } from './fragment';
import { mergeFragments } from './merge';

/** Where the document and Swagger UI are served (CONTRACT §1: the ingress sends both to the challenge service). */
export const OPENAPI_JSON_PATH = '/openapi.json';
export const OPENAPI_UI_PATH = '/docs';

/** `info.version`: the suite's release (package.json `version`, checked by a unit spec). */
export const SUITE_API_VERSION = '0.1.0';

const DESCRIPTION = [
  'The HTTP surface of first-party-auth (CONTRACT §1–§5): device registration, the token endpoint and its grants, pushed authorization requests, introspection and revocation, the metadata document and JWK Set, the authorization challenge endpoint (FiPA -04) and the browser login.',
  'Four services answer under one issuer, routed by path; each path names its service in `x-service`. Health (`/health/live`, `/health/ready`) and `/metrics` are per process and not public, so they are not described here; nor is the sample API.',
  'Wire rules (CONTRACT §2): requests are `application/x-www-form-urlencoded` (JSON is also accepted at `/authorize-challenge`), a parameter sent twice is `invalid_request`, a parameter the endpoint does not know is ignored. JSON answers carry `Cache-Control: no-store`; errors are `{"error", "error_description"?}` plus the members a draft adds — never a stack trace. An unexpected fault is `500 {"error":"server_error"}`, a store that cannot be reached `503 temporarily_unavailable` with `Retry-After`.',
  'Client authentication (`ClientAuthentication`): `client_secret_basic` is the `client_secret_basic` security scheme; `client_secret_post`, `private_key_jwt` (`client_assertion`) and `none` (a public client’s `client_id`) travel in the form body, which OpenAPI 3.0 security schemes cannot express. DPoP proofs (RFC 9449) travel in the `DPoP` header.',
].join('\n\n');

/** The document's frame: title, version, and the issuer as the one server. */
export function suiteDocumentBase(issuer: string): OpenAPIObject {
  return {
    openapi: '3.0.3',
    info: { title: 'first-party-auth', version: SUITE_API_VERSION, description: DESCRIPTION, license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' } },
    servers: [{ url: issuer, description: 'The issuer: every endpoint, whichever service answers it (CONTRACT §1).' }],
    paths: {},
  };
}

/** The suite's document: the shared components, then each contribution (generated ones built from `app`). */
export function buildSuiteDocument(app: INestApplication, issuer: string, contributions: readonly OpenApiContribution[]): OpenAPIObject {
  const fragments = contributions.map((c) => (typeof c === 'function' ? c(app) : c));
  return mergeFragments(suiteDocumentBase(issuer), [COMMON_OPENAPI, ...fragments]);
}

/**
 * Serves `document` at GET /openapi.json and Swagger UI (from the installed swagger-ui-dist, nothing
 * downloaded) at /docs. A function is called once, at the first request for either.
 */
export function serveOpenApi(app: INestApplication, document: OpenAPIObject | (() => OpenAPIObject)): void {
  SwaggerModule.setup(OPENAPI_UI_PATH, app, document, {
    jsonDocumentUrl: OPENAPI_JSON_PATH,
    raw: ['json'],
    customSiteTitle: 'first-party-auth — OpenAPI',
  });
}
