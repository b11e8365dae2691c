import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { JWK } from '@fpa/crypto';

/**
 * A federation entity key of the suite (OpenID Federation 1.0 §1.2): what signs its entity
 * configuration. Kept apart from the token signing keys (`signing_keys`): a federation key vouches
 * for the entity, not for tokens, and superiors pin it in their subordinate statements.
 */
@Entity({ name: 'federation_entity_keys' })
export class FederationEntityKeyEntity {
  @PrimaryColumn({ type: 'text' })
  kid!: string;

  @Column({ type: 'text' })
  alg!: 'ES256' | 'RS256';

  @Column({ name: 'public_jwk', type: 'jsonb' })
  publicJwk!: JWK;

  /** Compact JWE (dir, A256GCM) under KEY_ENCRYPTION_KEY, as libs/keys stores signing keys. */
  @Column({ name: 'private_jwe', type: 'text' })
  privateJwe!: string;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  /** Null: published and signing. Set: published until then, never signing again. */
  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt!: Date | null;
}
