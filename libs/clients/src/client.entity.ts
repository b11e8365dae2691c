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

  @Column({ name: 'assertion_audience', type: 'text', nullable: true })
  assertionAudience!: AssertionAudience | null;

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
  /** Null: the deployment's default (ASSERTION_STRICT_AUDIENCE). */
  readonly assertionAudience: AssertionAudience | null;
}

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
    assertionAudience: e.assertionAudience ?? null,
  });
}
