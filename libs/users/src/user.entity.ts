import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A user (resource owner); `id` is the `sub` of user-bound tokens. Found by a verified email or phone. */
@Entity({ name: 'users' })
export class UserEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ type: 'text', nullable: true })
  email!: string | null;

  @Column({ name: 'email_verified_at', type: 'timestamptz', nullable: true })
  emailVerifiedAt!: Date | null;

  @Column({ type: 'text', nullable: true })
  phone!: string | null;

  @Column({ name: 'phone_verified_at', type: 'timestamptz', nullable: true })
  phoneVerifiedAt!: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

@Entity({ name: 'user_authentications' })
export class UserAuthenticationEntity {
  @PrimaryColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @Column({ name: 'auth_session', type: 'text' })
  authSession!: string;

  @Column({ type: 'text' })
  method!: string;

  @Column({ type: 'text', array: true })
  amr!: string[];

  @Column({ name: 'verified_value', type: 'text', nullable: true })
  verifiedValue!: string | null;

  @Column({ name: 'authenticated_at', type: 'timestamptz' })
  authenticatedAt!: Date;
}

@Entity({ name: 'user_credentials' })
export class UserCredentialEntity {
  @PrimaryColumn({ type: 'text' })
  method!: string;

  @PrimaryColumn({ name: 'credential_id', type: 'text' })
  credentialId!: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @Column({ name: 'public_data', type: 'jsonb' })
  publicData!: Record<string, unknown>;

  @Column({ name: 'secret_jwe', type: 'text', nullable: true })
  secretJwe!: string | null;

  @Column({ type: 'bigint' })
  counter!: string;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt!: Date | null;
}
