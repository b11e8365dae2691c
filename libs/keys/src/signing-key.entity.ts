import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { JWK } from '@fpa/crypto';

/**
 * A server signing key. Its life is written as timestamps so every replica derives the same state
 * from the row: published from creation until `expires_at`; signs from `activates_at` until
 * `deactivated_at` (when its successor activates).
 */
@Entity({ name: 'signing_keys' })
export class SigningKeyEntity {
  @PrimaryColumn({ type: 'text' })
  kid!: string;

  @Column({ type: 'text' })
  alg!: 'ES256' | 'RS256';

  @Column({ name: 'public_jwk', type: 'jsonb' })
  publicJwk!: JWK;

  /** Compact JWE (dir, A256GCM) under KEY_ENCRYPTION_KEY. */
  @Column({ name: 'private_jwe', type: 'text' })
  privateJwe!: string;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'activates_at', type: 'timestamptz' })
  activatesAt!: Date;

  @Column({ name: 'deactivated_at', type: 'timestamptz', nullable: true })
  deactivatedAt!: Date | null;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt!: Date | null;
}

export type KeyState = 'pending' | 'active' | 'retiring' | 'expired';

export function keyState(k: Pick<SigningKeyEntity, 'activatesAt' | 'deactivatedAt' | 'expiresAt'>, nowMs: number): KeyState {
  if (k.expiresAt && k.expiresAt.getTime() <= nowMs) return 'expired';
  if (k.activatesAt.getTime() > nowMs) return 'pending';
  if (k.deactivatedAt && k.deactivatedAt.getTime() <= nowMs) return 'retiring';
  return 'active';
}
