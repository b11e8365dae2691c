import { Column, Entity, PrimaryColumn } from 'typeorm';

export type RefreshTokenStatus = 'active' | 'rotated' | 'revoked';

/**
 * One refresh token of a family. Only its SHA-256 is stored; rotation marks the parent `rotated`
 * and inserts the child in one statement; presenting a `rotated` token revokes the family.
 */
@Entity({ name: 'refresh_tokens' })
export class RefreshTokenEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ name: 'token_hash', type: 'text' })
  tokenHash!: string;

  @Column({ name: 'family_id', type: 'uuid' })
  familyId!: string;

  @Column({ name: 'parent_id', type: 'uuid', nullable: true })
  parentId!: string | null;

  @Column({ name: 'client_id', type: 'text' })
  clientId!: string;

  @Column({ name: 'auth_session', type: 'text' })
  authSession!: string;

  @Column({ type: 'text' })
  subject!: string;

  /** DPOP-18: the DPoP key a public client's refresh token is bound to. */
  @Column({ type: 'text', nullable: true })
  jkt!: string | null;

  @Column({ type: 'text' })
  scope!: string;

  @Column({ type: 'text' })
  audience!: string;

  /** RFC 9396 §6.1: the authorization details of the grant (a refresh may narrow, never widen, them). */
  @Column({ name: 'authorization_details', type: 'jsonb', nullable: true })
  authorizationDetails!: Record<string, unknown>[] | null;

  /** ACE-5 (issue 12): the PoP key of a PoP family — `{jwk, kid}` (client key) or `{jwe, kid}` (generated key, as encrypted for the resource server). */
  @Column({ type: 'jsonb', nullable: true })
  pop!: Record<string, unknown> | null;

  @Column({ name: 'access_token_jti', type: 'text' })
  accessTokenJti!: string;

  @Column({ name: 'access_token_expires_at', type: 'timestamptz' })
  accessTokenExpiresAt!: Date;

  @Column({ type: 'text' })
  status!: RefreshTokenStatus;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  @Column({ name: 'used_at', type: 'timestamptz', nullable: true })
  usedAt!: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;

  @Column({ name: 'revoked_reason', type: 'text', nullable: true })
  revokedReason!: string | null;
}
