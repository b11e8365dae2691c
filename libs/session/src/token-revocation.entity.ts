import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Revoked access-token ids, durable; Redis holds the same set for fast checks by resource servers. */
@Entity({ name: 'token_revocations' })
export class TokenRevocationEntity {
  @PrimaryColumn({ type: 'text' })
  jti!: string;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  @Column({ name: 'revoked_at', type: 'timestamptz' })
  revokedAt!: Date;

  @Column({ type: 'text' })
  reason!: string;
}
