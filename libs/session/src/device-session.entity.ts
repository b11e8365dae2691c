import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { PublicJwk } from '@fpa/crypto';

export type DeviceSessionStatus = 'active' | 'revoked';

/** An `auth_session` bound to a device key's RFC 7638 thumbprint (seed 000 (A)/(B), CONTRACT §3). */
@Entity({ name: 'device_sessions' })
export class DeviceSessionEntity {
  @PrimaryColumn({ name: 'auth_session', type: 'text' })
  authSession!: string;

  @Column({ name: 'client_id', type: 'text' })
  clientId!: string;

  @Column({ name: 'key_jkt', type: 'text' })
  keyJkt!: string;

  @Column({ name: 'public_jwk', type: 'jsonb' })
  publicJwk!: PublicJwk;

  @Column({ name: 'key_alg', type: 'text' })
  keyAlg!: string;

  @Column({ type: 'text' })
  status!: DeviceSessionStatus;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  @Column({ name: 'absolute_expires_at', type: 'timestamptz' })
  absoluteExpiresAt!: Date;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;

  @Column({ name: 'registered_ip', type: 'text', nullable: true })
  registeredIp!: string | null;

  @Column({ type: 'text' })
  kind!: SessionKind;

  @Column({ name: 'user_id', type: 'uuid', nullable: true })
  userId!: string | null;

  @Column({ name: 'auth_time', type: 'timestamptz', nullable: true })
  authTime!: Date | null;

  @Column({ type: 'text', array: true })
  amr!: string[];

  @Column({ type: 'text', nullable: true })
  acr!: string | null;

  @Column({ type: 'text', array: true })
  verified!: string[];
}

/**
 * `device`: created by device registration, bound to the device key (assertions).
 * `challenge`: created at the authorization challenge endpoint, bound to the client's DPoP key.
 * `browser`: created by the browser authorization endpoint, bound to a login cookie.
 * `federated`: created at the authorization challenge endpoint for a request a federating client
 * (another AS, confidential) pushed (FED-11), bound to the DPoP key of the end user's app.
 */
export type SessionKind = 'device' | 'challenge' | 'browser' | 'federated';

/** What a session knows about its user once a challenge succeeded (FIPA-13, STEP-2). */
export interface SessionUser {
  readonly userId: string;
  readonly authTime: Date;
  readonly amr: readonly string[];
  readonly acr: string | null;
  /** Verified identifiers: `email`, `phone`. */
  readonly verified: readonly string[];
}

export interface DeviceSession {
  readonly authSession: string;
  readonly clientId: string;
  readonly keyJkt: string;
  readonly publicJwk: PublicJwk;
  readonly keyAlg: string;
  readonly status: DeviceSessionStatus;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  /** The absolute end (issue 7 finding 5); `expiresAt` never passes it. */
  readonly absoluteExpiresAt: Date;
  readonly kind: SessionKind;
  readonly user: SessionUser | undefined;
}

/** Usable = active, and neither its idle expiry nor its absolute lifetime has passed at `nowMs`. */
export function isUsable(session: DeviceSession, nowMs: number): boolean {
  return session.status === 'active' && session.expiresAt.getTime() > nowMs && session.absoluteExpiresAt.getTime() > nowMs;
}
