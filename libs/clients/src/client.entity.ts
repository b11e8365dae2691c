import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export type ClientType = 'public' | 'confidential';
export type ClientAuthMethod = 'none' | 'private_key_jwt' | 'client_secret_basic' | 'client_secret_post';
export type ClientPermission = 'introspect' | 'revoke';
/**
 * Which `aud` a client's assertions may carry (JWTCA-4, JWTCA-9): `issuer` = the issuer identifier as
 * the sole value (rfc7523bis); `issuer_or_endpoint` also accepts the URL of the endpoint the
 * assertion is sent to (RFC 7523 as first published, and the seeds). Null = ASSERTION_STRICT_AUDIENCE.
 */
export type AssertionAudience = 'issuer' | 'issuer_or_endpoint';

@Entity({ name: 'clients' })
export class ClientEntity {
  @PrimaryColumn({ name: 'client_id', type: 'text' })
  clientId!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ name: 'client_type', type: 'text' })
  clientType!: ClientType;

  /** FIPA-1: only first-party clients may register devices and use the challenge endpoint. */
  @Column({ name: 'first_party', type: 'boolean' })
  firstParty!: boolean;

  @Column({ name: 'grant_types', type: 'text', array: true })
  grantTypes!: string[];

  @Column({ name: 'auth_methods', type: 'text', array: true })
  authMethods!: ClientAuthMethod[];

  /** SHA-256 of a server-generated 256-bit secret (high entropy, so a slow KDF adds nothing). */
  @Column({ name: 'secret_hash', type: 'text', nullable: true })
  secretHash!: string | null;

  @Column({ type: 'text', array: true })
  scopes!: string[];

  /** RFC 8707 resource indicators this client may ask for. */
  @Column({ type: 'text', array: true })
  resources!: string[];

  @Column({ type: 'text', array: true })
  permissions!: ClientPermission[];

  /** DPOP-19 */
  @Column({ name: 'dpop_bound_access_tokens', type: 'boolean' })
  dpopBoundAccessTokens!: boolean;

  @Column({ type: 'boolean' })
  enabled!: boolean;

  @Column({ name: 'challenge_policy', type: 'jsonb', nullable: true })
  challengePolicy!: Record<string, unknown> | null;

  /** Issue 10 (routing-policy.ts): null = local authentication only. */
  @Column({ name: 'routing_policy', type: 'jsonb', nullable: true })
  routingPolicy!: Record<string, unknown> | null;

  @Column({ name: 'assertion_audience', type: 'text', nullable: true })
  assertionAudience!: AssertionAudience | null;

  @Column({ name: 'redirect_uris', type: 'text', array: true })
  redirectUris!: string[];

  @Column({ type: 'jsonb', nullable: true })
  jwks!: { keys: Record<string, unknown>[] } | null;

  @Column({ name: 'jwks_uri', type: 'text', nullable: true })
  jwksUri!: string | null;

  @Column({ name: 'authorization_details_types', type: 'text', array: true })
  authorizationDetailsTypes!: string[];

  @Column({ name: 'native_callback_uris', type: 'text', array: true })
  nativeCallbackUris!: string[];

  /** Issue 11: the app's web origins (DC API `expected_origins`). */
  @Column({ type: 'text', array: true })
  origins!: string[];

  @Column({ name: 'openid4vp_redirect_uris', type: 'text', array: true })
  openid4vpRedirectUris!: string[];

  @Column({ name: 'require_pushed_authorization_requests', type: 'boolean' })
  requirePushedAuthorizationRequests!: boolean;

  @Column({ name: 'logo_uri', type: 'text', nullable: true })
  logoUri!: string | null;

  /** FED-8/FED-14 (wire names, as in the client definition). */
  @Column({ name: 'redirect_to_app', type: 'jsonb', nullable: true })
  redirectToApp!: { deep_link: string; app_client_ids: string[] } | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

/** The immutable view the rest of the suite works with. */
export interface Client {
  readonly id: string;
  readonly name: string;
  readonly type: ClientType;
  readonly firstParty: boolean;
  readonly grantTypes: readonly string[];
  readonly authMethods: readonly ClientAuthMethod[];
  readonly secretHash: string | null;
  readonly scopes: readonly string[];
  readonly resources: readonly string[];
  readonly permissions: readonly ClientPermission[];
  readonly dpopBoundAccessTokens: boolean;
  readonly enabled: boolean;
  readonly challengePolicy: Readonly<Record<string, unknown>> | null;
  /** Issue 10: where its users authenticate (routing-policy.ts); null = locally. */
  readonly routingPolicy: Readonly<Record<string, unknown>> | null;
  /** Null: the deployment's default (ASSERTION_STRICT_AUDIENCE). */
  readonly assertionAudience: AssertionAudience | null;
  /** RFC 6749 §3.1.2: where the browser endpoint may send codes (exact match). */
  readonly redirectUris: readonly string[];
  /** RFC 7591 `jwks`: the client's public keys for private_key_jwt, inline. */
  readonly jwks: Readonly<{ keys: readonly Readonly<Record<string, unknown>>[] }> | null;
  /** RFC 7591 `jwks_uri`: the same, fetched (cached, bounded). */
  readonly jwksUri: string | null;
  /** RFC 9396 §10 (RAR-8): the authorization_details types this client may request. */
  readonly authorizationDetailsTypes: readonly string[];
  /** FED-3/FED-4: the `native_callback_uri` values this client may send (exact match). */
  readonly nativeCallbackUris: readonly string[];
  /** Issue 11 (VP-3): the app's web origins, the DC API's `expected_origins`. */
  readonly origins: readonly string[];
  /** WALLET-1: the `openid4vp_redirect_uri` values this client may send (exact match). */
  readonly openid4vpRedirectUris: readonly string[];
  /** RFC 9126 §6 (PAR-1): this client's authorization requests must be pushed. */
  readonly requirePushedAuthorizationRequests: boolean;
  /** Shown on the login and consent pages. */
  readonly logoUri: string | null;
  /**
   * FED-8/FED-14: a federating client's requests with a trusted native_callback_uri are handed over
   * to this server's app (`deepLink`), completed by one of `appClientIds`. Null: never.
   */
  readonly redirectToApp: RedirectToAppPolicy | null;
}

export interface RedirectToAppPolicy {
  readonly deepLink: string;
  readonly appClientIds: readonly string[];
}

/** What a client has of the issue-9 metadata when its definition names none. */
export const CLIENT_METADATA_DEFAULTS = Object.freeze({
  redirectUris: Object.freeze([]) as readonly string[],
  jwks: null,
  jwksUri: null,
  authorizationDetailsTypes: Object.freeze([]) as readonly string[],
  nativeCallbackUris: Object.freeze([]) as readonly string[],
  origins: Object.freeze([]) as readonly string[],
  openid4vpRedirectUris: Object.freeze([]) as readonly string[],
  requirePushedAuthorizationRequests: false,
  logoUri: null,
  redirectToApp: null,
  routingPolicy: null,
} satisfies Partial<Client>);

export function toClient(e: ClientEntity): Client {
  return Object.freeze({
    id: e.clientId,
    name: e.name,
    type: e.clientType,
    firstParty: e.firstParty,
    grantTypes: Object.freeze([...e.grantTypes]),
    authMethods: Object.freeze([...e.authMethods]),
    secretHash: e.secretHash,
    scopes: Object.freeze([...e.scopes]),
    resources: Object.freeze([...e.resources]),
    permissions: Object.freeze([...e.permissions]),
    dpopBoundAccessTokens: e.dpopBoundAccessTokens,
    enabled: e.enabled,
    challengePolicy: e.challengePolicy,
    routingPolicy: e.routingPolicy ?? CLIENT_METADATA_DEFAULTS.routingPolicy,
    assertionAudience: e.assertionAudience ?? null,
    redirectUris: Object.freeze([...(e.redirectUris ?? CLIENT_METADATA_DEFAULTS.redirectUris)]),
    jwks: e.jwks ?? CLIENT_METADATA_DEFAULTS.jwks,
    jwksUri: e.jwksUri ?? CLIENT_METADATA_DEFAULTS.jwksUri,
    authorizationDetailsTypes: Object.freeze([...(e.authorizationDetailsTypes ?? CLIENT_METADATA_DEFAULTS.authorizationDetailsTypes)]),
    nativeCallbackUris: Object.freeze([...(e.nativeCallbackUris ?? CLIENT_METADATA_DEFAULTS.nativeCallbackUris)]),
    origins: Object.freeze([...(e.origins ?? CLIENT_METADATA_DEFAULTS.origins)]),
    openid4vpRedirectUris: Object.freeze([...(e.openid4vpRedirectUris ?? CLIENT_METADATA_DEFAULTS.openid4vpRedirectUris)]),
    requirePushedAuthorizationRequests: e.requirePushedAuthorizationRequests ?? CLIENT_METADATA_DEFAULTS.requirePushedAuthorizationRequests,
    logoUri: e.logoUri ?? CLIENT_METADATA_DEFAULTS.logoUri,
    redirectToApp: e.redirectToApp ? Object.freeze({ deepLink: e.redirectToApp.deep_link, appClientIds: Object.freeze([...e.redirectToApp.app_client_ids]) }) : CLIENT_METADATA_DEFAULTS.redirectToApp,
  });
}
