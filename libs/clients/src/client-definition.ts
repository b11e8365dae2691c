import { plainToInstance, Expose } from 'class-transformer';
import { ArrayUnique, IsArray, IsBoolean, IsIn, IsObject, IsOptional, IsString, Matches, MaxLength, validateSync } from 'class-validator';
import { acrPolicyProblems } from '@fpa/assurance';
import type { AppConfig } from '@fpa/config';
import { checkPublicJwkSet, importPublicJwkSet, JwkSetError } from '@fpa/crypto';
import { routingPolicyProblems } from './routing-policy';
import type { AssertionAudience, ClientAuthMethod, ClientPermission, ClientType } from './client.entity';

export const KNOWN_GRANT_TYPES = ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code'] as const;
export const AUTH_METHODS: readonly ClientAuthMethod[] = ['none', 'private_key_jwt', 'client_secret_basic', 'client_secret_post'];
export const PERMISSIONS: readonly ClientPermission[] = ['introspect', 'revoke'];
export const ASSERTION_AUDIENCES: readonly AssertionAudience[] = ['issuer', 'issuer_or_endpoint'];

/**
 * A client as written in the declarative clients file or given to `npm run client -- create`.
 * Wire names (snake_case) as in RFC 7591 client metadata where one exists.
 */
export class ClientDefinition {
  @Expose() @IsString() @Matches(/^[A-Za-z0-9._:-]{1,128}$/, { message: 'client_id may use letters, digits and . _ : - (max 128)' })
  client_id!: string;

  @Expose() @IsOptional() @IsString() @MaxLength(200)
  name?: string;

  @Expose() @IsIn(['public', 'confidential'])
  type!: ClientType;

  @Expose() @IsOptional() @IsBoolean()
  first_party?: boolean;

  @Expose() @IsOptional() @IsArray() @ArrayUnique() @IsIn([...KNOWN_GRANT_TYPES], { each: true })
  grant_types?: string[];

  @Expose() @IsOptional() @IsArray() @ArrayUnique() @IsIn([...AUTH_METHODS], { each: true })
  auth_methods?: ClientAuthMethod[];

  /** base64url SHA-256 of the secret (never the secret itself in a file). */
  @Expose() @IsOptional() @IsString() @Matches(/^[A-Za-z0-9_-]{43}$/, { message: 'secret_hash must be a base64url SHA-256' })
  secret_hash?: string;

  @Expose() @IsOptional() @IsArray() @ArrayUnique() @IsString({ each: true }) @Matches(/^[\x21\x23-\x5B\x5D-\x7E]+$/, { each: true, message: 'scopes must be RFC 6749 scope tokens' })
  scopes?: string[];

  @Expose() @IsOptional() @IsArray() @ArrayUnique() @Matches(/^https?:\/\/[^\s#]+$/, { each: true, message: 'resources must be absolute URIs without fragment (RFC 8707)' })
  resources?: string[];

  @Expose() @IsOptional() @IsArray() @ArrayUnique() @IsIn([...PERMISSIONS], { each: true })
  permissions?: ClientPermission[];

  @Expose() @IsOptional() @IsBoolean()
  dpop_bound_access_tokens?: boolean;

  @Expose() @IsOptional() @IsBoolean()
  enabled?: boolean;

  /** Which challenge methods satisfy which acr_values for this client (issue 3); null = the built-in policy. */
  @Expose() @IsOptional()
  challenge_policy?: Record<string, unknown>;

  /** Issue 10: where this client's users authenticate — locally or at a downstream server (routing-policy.ts); null = locally. */
  @Expose() @IsOptional()
  routing_policy?: Record<string, unknown>;

  /**
   * JWTCA-9: `issuer` (the issuer as the sole `aud`, rfc7523bis) or `issuer_or_endpoint` (an opt-out
   * for clients that still send the endpoint URL). Absent = ASSERTION_STRICT_AUDIENCE decides.
   */
  @Expose() @IsOptional() @IsIn([...ASSERTION_AUDIENCES], { message: 'assertion_audience must be issuer or issuer_or_endpoint' })
  assertion_audience?: AssertionAudience;

  /**
   * RFC 6749 §3.1.2, RFC 8252 §7: https URLs, http on a loopback address, or a private-use scheme
   * (`com.example.app:/callback`) for native apps; never a fragment. Matched exactly.
   */
  @Expose() @IsOptional() @IsArray() @ArrayUnique() @IsString({ each: true }) @MaxLength(2048, { each: true })
  redirect_uris?: string[];

  /** RFC 7591: the public keys of a private_key_jwt client, inline (`{"keys": [...]}`); checked by jwksProblems. */
  @Expose() @IsOptional() @IsObject({ message: 'jwks must be a JWK Set object ({"keys": [...]})' })
  jwks?: { keys: Record<string, unknown>[] };

  /** RFC 7591: the same, by URL (https; loopback http outside production — jwksUriProblem). */
  @Expose() @IsOptional() @IsString() @MaxLength(2048)
  jwks_uri?: string;

  /** RFC 9396 §10: the authorization_details types this client may request. */
  @Expose() @IsOptional() @IsArray() @ArrayUnique() @IsString({ each: true }) @MaxLength(128, { each: true })
  authorization_details_types?: string[];

  /** FED-3/FED-4: native callback URIs this client may send (claimed https links; exact match). */
  @Expose() @IsOptional() @IsArray() @ArrayUnique() @Matches(/^https:\/\/[^\s#]+$/, { each: true, message: 'native_callback_uris must be https URLs without fragment' })
  native_callback_uris?: string[];

  /**
   * Issue 11 (VP-3): the web origins of this first-party app (`https://app.example`), the
   * `expected_origins` of its Digital Credentials API requests and the `origin:` a KB-JWT names.
   */
  @Expose() @IsOptional() @IsArray() @ArrayUnique() @Matches(/^https:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?$/, { each: true, message: 'origins must be https origins (scheme, host, optional port; no path)' })
  origins?: string[];

  /** WALLET-1: where a same-device wallet sends the user back with `response_code` (`openid4vp_redirect_uri`, exact match). */
  @Expose() @IsOptional() @IsArray() @ArrayUnique() @IsString({ each: true }) @MaxLength(2048, { each: true })
  openid4vp_redirect_uris?: string[];

  /** RFC 9126 §6: every authorization request of this client must be pushed. */
  @Expose() @IsOptional() @IsBoolean()
  require_pushed_authorization_requests?: boolean;

  @Expose() @IsOptional() @IsString() @MaxLength(2048) @Matches(/^https:\/\/[^\s#]+$/, { message: 'logo_uri must be an https URL' })
  logo_uri?: string;

  /**
   * FED-8/FED-14: this (federating) client's requests that carry a trusted native_callback_uri are
   * handed to this server's own app: `deep_link` (https claimed link of the app) and the first-party
   * clients (`app_client_ids`) that may complete them. Checked by redirectToAppProblems.
   */
  @Expose() @IsOptional() @IsObject({ message: 'redirect_to_app must be an object {deep_link, app_client_ids}' })
  redirect_to_app?: { deep_link: string; app_client_ids: string[] };
}

export class ClientDefinitionError extends Error {}

/** What the deployment allows of a client's key set (CLIENT_JWKS_*, APP_MODE). */
export interface ClientDefinitionRules {
  /** `jwks_uri` may be http on a loopback host (never in production). */
  readonly allowHttpLoopbackJwksUri: boolean;
  readonly jwksMaxBytes: number;
  readonly jwksMaxKeys: number;
}

/** Production's rules with the default limits: what a definition is checked against without a config. */
export const STRICT_CLIENT_RULES: ClientDefinitionRules = Object.freeze({ allowHttpLoopbackJwksUri: false, jwksMaxBytes: 65_536, jwksMaxKeys: 20 });

export function clientDefinitionRules(config: Pick<AppConfig, 'clientJwks'>): ClientDefinitionRules {
  const c = config.clientJwks;
  return { allowHttpLoopbackJwksUri: c.allowHttpLoopback, jwksMaxBytes: c.maxBytes, jwksMaxKeys: c.maxKeys };
}

/**
 * Everything `parseClientDefinition` checks, plus what needs jose: each inline `jwks` key is
 * imported once. The CLI, CLIENTS_FILE and the embedded bootstrap go through this.
 */
export async function validateClientDefinition(input: unknown, rules: ClientDefinitionRules = STRICT_CLIENT_RULES): Promise<ClientDefinition> {
  const def = parseClientDefinition(input, rules);
  if (def.jwks) {
    try {
      await importPublicJwkSet(checkPublicJwkSet(def.jwks, { maxKeys: rules.jwksMaxKeys }));
    } catch (e) {
      if (e instanceof JwkSetError) throw new ClientDefinitionError(`client ${def.client_id}: jwks ${e.message}`);
      throw e;
    }
  }
  return def;
}

/** Validates shape and the rules that tie fields together. */
export function parseClientDefinition(input: unknown, rules: ClientDefinitionRules = STRICT_CLIENT_RULES): ClientDefinition {
  // A definition is JSON: class-transformer would empty a nested object that is not a plain one
  // (a JWK as WebCrypto exports it, say), so the input is read as the JSON it stands for.
  const def = plainToInstance(ClientDefinition, asJson(input), { excludeExtraneousValues: true });
  const errors = validateSync(def, { forbidUnknownValues: true });
  const problems = errors.flatMap((e) => Object.values(e.constraints ?? {}));
  if (input && typeof input === 'object') {
    const unknown = Object.keys(input).filter((k) => !(k in new ClientDefinitionKeys()));
    if (unknown.length > 0) problems.push(`unknown fields: ${unknown.join(', ')}`);
  }
  const methods = def.auth_methods ?? defaultAuthMethods(def.type);
  if (def.type === 'public' && methods.some((m) => m.startsWith('client_secret'))) {
    problems.push('public clients cannot use client_secret_* authentication');
  }
  if (def.type === 'confidential' && !methods.some((m) => m.startsWith('client_secret') || m === 'private_key_jwt')) {
    problems.push('confidential clients need an authentication method other than none');
  }
  // RFC 6749 §2.1: a confidential client authenticates; `none` would be a method it can never use.
  if (def.type === 'confidential' && methods.includes('none')) problems.push('confidential clients cannot use none');
  problems.push(...keySetProblems(def, methods, rules));
  if ((def.grant_types ?? []).includes('fp_register') && !def.first_party) {
    problems.push('fp_register is only for first-party clients (FIPA-1)');
  }
  problems.push(...acrPolicyProblems(def.challenge_policy));
  problems.push(...redirectToAppProblems(def.redirect_to_app));
  problems.push(...routingPolicyProblems(def.routing_policy));
  // FED-6: the native endpoint is where routing speaks; only first-party clients use it (FIPA-1).
  if (def.routing_policy && !def.first_party) problems.push('routing_policy is only for first-party clients (the native endpoint)');
  for (const uri of def.openid4vp_redirect_uris ?? []) {
    const why = redirectUriProblem(uri);
    if (why) problems.push(`openid4vp_redirect_uris: ${JSON.stringify(uri).slice(0, 100)} ${why}`);
  }
  for (const uri of def.redirect_uris ?? []) {
    const why = redirectUriProblem(uri);
    if (why) problems.push(`redirect_uris: ${JSON.stringify(uri).slice(0, 100)} ${why}`);
  }
  if (problems.length > 0) throw new ClientDefinitionError(`client ${String(def.client_id)}: ${problems.join('; ')}`);
  return def;
}

/**
 * RFC 7523 / RFC 7591 §2: a confidential `private_key_jwt` client needs its public keys, inline or by
 * URL — exactly one of them — or it could never authenticate. (A public first-party client signs with
 * its devices' keys, registered per device; a key set is optional there.)
 */
function keySetProblems(def: ClientDefinition, methods: readonly ClientAuthMethod[], rules: ClientDefinitionRules): string[] {
  const problems: string[] = [];
  if (def.jwks !== undefined && def.jwks_uri !== undefined) problems.push('use jwks or jwks_uri, not both');
  if (def.type === 'confidential' && methods.includes('private_key_jwt') && def.jwks === undefined && def.jwks_uri === undefined) {
    problems.push('a confidential client with private_key_jwt needs its public keys in jwks or jwks_uri');
  }
  if (typeof def.jwks_uri === 'string') {
    const why = jwksUriProblem(def.jwks_uri, rules.allowHttpLoopbackJwksUri);
    if (why) problems.push(`jwks_uri ${why}`);
  }
  if (def.jwks !== undefined && def.jwks !== null && typeof def.jwks === 'object' && !Array.isArray(def.jwks)) {
    if (Buffer.byteLength(JSON.stringify(def.jwks)) > rules.jwksMaxBytes) problems.push(`jwks is larger than ${rules.jwksMaxBytes} bytes`);
    else {
      try {
        checkPublicJwkSet(def.jwks, { maxKeys: rules.jwksMaxKeys });
      } catch (e) {
        if (!(e instanceof JwkSetError)) throw e;
        problems.push(`jwks ${e.message}`);
      }
    }
  }
  return problems;
}

/**
 * Where a client's key set may be fetched from: an absolute https URL without credentials or
 * fragment; http only on a loopback host, and only outside production (CLIENT_JWKS_*, APP_MODE).
 */
export function jwksUriProblem(uri: string, allowHttpLoopback: boolean): string | undefined {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return 'must be an absolute https URL';
  }
  if (u.hash || uri.includes('#')) return 'must not contain a fragment';
  if (u.username || u.password) return 'must not contain credentials';
  if (u.protocol === 'https:') return undefined;
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname);
  if (u.protocol === 'http:' && loopback && allowHttpLoopback) return undefined;
  return allowHttpLoopback ? 'must be an https URL (http only on a loopback host)' : 'must be an https URL';
}

/** RFC 6749 §3.1.2, RFC 8252 §7.1–7.3, RFC 9700 §4.1.1: what may be registered as a redirect URI. */
export function redirectUriProblem(uri: string): string | undefined {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return 'is not an absolute URI';
  }
  if (u.hash || uri.includes('#')) return 'must not contain a fragment';
  if (u.protocol === 'https:') return undefined;
  if (u.protocol === 'http:') return ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname) ? undefined : 'may use http only on a loopback address';
  // RFC 8252 §7.1: a private-use scheme in reverse-domain form (com.example.app).
  return /^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+:$/.test(u.protocol) ? undefined : 'must be https, loopback http, or a reverse-domain private-use scheme';
}

/** FED-8: `redirect_to_app` = {deep_link: https URL without fragment or query, app_client_ids: 1–20 client ids}. */
export function redirectToAppProblems(policy: unknown): string[] {
  if (policy === undefined || policy === null) return [];
  if (typeof policy !== 'object' || Array.isArray(policy)) return ['redirect_to_app must be an object {deep_link, app_client_ids}'];
  const p = policy as Record<string, unknown>;
  const problems = Object.keys(p).filter((k) => k !== 'deep_link' && k !== 'app_client_ids').map((k) => `redirect_to_app.${k} is unknown`);
  const link = p.deep_link;
  let url: URL | undefined;
  try {
    url = typeof link === 'string' && link.length <= 1024 ? new URL(link) : undefined;
  } catch {
    url = undefined;
  }
  // The server appends client_id and request_uri: a link that has a query or fragment of its own is refused.
  if (!url || url.protocol !== 'https:' || url.search || url.hash || String(link).includes('#') || String(link).includes('?') || url.username || url.password) {
    problems.push('redirect_to_app.deep_link must be an https URL (at most 1024 characters) without query, fragment or credentials');
  }
  const apps = p.app_client_ids;
  if (!Array.isArray(apps) || apps.length === 0 || apps.length > 20 || !apps.every((a) => typeof a === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(a)) || new Set(apps).size !== apps.length) {
    problems.push('redirect_to_app.app_client_ids must list 1 to 20 distinct client ids');
  }
  return problems;
}

export function defaultAuthMethods(type: ClientType): ClientAuthMethod[] {
  return type === 'public' ? ['none', 'private_key_jwt'] : ['client_secret_basic', 'client_secret_post'];
}

function asJson(input: unknown): unknown {
  try {
    return input === undefined ? input : (JSON.parse(JSON.stringify(input)) as unknown);
  } catch {
    throw new ClientDefinitionError('a client definition must be JSON');
  }
}

class ClientDefinitionKeys {
  client_id = 0;
  name = 0;
  type = 0;
  first_party = 0;
  grant_types = 0;
  auth_methods = 0;
  secret_hash = 0;
  scopes = 0;
  resources = 0;
  permissions = 0;
  dpop_bound_access_tokens = 0;
  enabled = 0;
  challenge_policy = 0;
  routing_policy = 0;
  assertion_audience = 0;
  redirect_uris = 0;
  jwks = 0;
  jwks_uri = 0;
  authorization_details_types = 0;
  native_callback_uris = 0;
  origins = 0;
  openid4vp_redirect_uris = 0;
  require_pushed_authorization_requests = 0;
  logo_uri = 0;
  redirect_to_app = 0;
}

