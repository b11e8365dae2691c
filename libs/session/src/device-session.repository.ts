import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import type { DataSource, Repository } from 'typeorm';
import type { PublicJwk } from '@fpa/crypto';
import { sqlRunner, type SqlRunner } from '@fpa/persistence';
import { DeviceSessionEntity, type DeviceSession, type SessionKind } from './device-session.entity';

/** The columns `find` reads (and `sessionFromRow` maps): a statement that joins the session reads the same. */
export const SESSION_COLUMNS = 'auth_session, client_id, key_jkt, public_jwk, key_alg, status, created_at, expires_at, absolute_expires_at, kind, user_id, auth_time, amr, acr, verified';

const FIND_SESSION = `SELECT ${SESSION_COLUMNS} FROM device_sessions WHERE auth_session = $1`;

export interface NewDeviceSession {
  readonly authSession: string;
  readonly clientId: string;
  readonly keyJkt: string;
  readonly publicJwk: PublicJwk;
  readonly keyAlg: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  /** Nothing extends the session past this (SESSION_MAX_LIFETIME_SECONDS from creation). */
  readonly absoluteExpiresAt: Date;
  readonly registeredIp: string | null;
  readonly kind?: SessionKind;
}

@Injectable()
export class DeviceSessionRepository {
  private readonly sql: SqlRunner;

  constructor(
    @InjectRepository(DeviceSessionEntity) private readonly repo: Repository<DeviceSessionEntity>,
    @InjectDataSource() ds: DataSource,
  ) {
    this.sql = sqlRunner(ds);
  }

  async create(s: NewDeviceSession): Promise<void> {
    await this.sql(
      `INSERT INTO device_sessions (auth_session, client_id, key_jkt, public_jwk, key_alg, status, created_at, expires_at, registered_ip, kind, absolute_expires_at)
       VALUES ($1, $2, $3, $4, $5, 'active', $6, LEAST($7::timestamptz, $10::timestamptz), $8, $9, $10)`,
      [s.authSession, s.clientId, s.keyJkt, JSON.stringify(s.publicJwk), s.keyAlg, s.createdAt, s.expiresAt, s.registeredIp, s.kind ?? 'device', s.absoluteExpiresAt],
    );
  }

  async find(authSession: string): Promise<DeviceSession | undefined> {
    // auth_session values we mint are 43 base64url characters; anything else cannot exist.
    if (!/^[A-Za-z0-9_-]{20,128}$/.test(authSession)) return undefined;
    // On the token endpoint's hot path: one plain statement straight to the pool.
    const rows = await this.sql<SessionRow>(FIND_SESSION, [authSession]);
    return rows[0] ? sessionFromRow(rows[0]) : undefined;
  }

  /**
   * Deletes a challenge session no user ever attached to: the compensation when the request that
   * created it is refused after storing it (nothing else knows its id).
   */
  async discardUnused(authSession: string): Promise<void> {
    await this.sql(`DELETE FROM device_sessions WHERE auth_session = $1 AND kind IN ('challenge', 'federated') AND user_id IS NULL`, [authSession]);
  }

  async revoke(authSession: string, at: Date): Promise<boolean> {
    const result = await this.repo.update({ authSession, status: 'active' }, { status: 'revoked', revokedAt: at });
    return (result.affected ?? 0) > 0;
  }

  count(): Promise<number> {
    return this.repo.count();
  }
}

/** A row of SESSION_COLUMNS (timestamps as Date, or as text when the row came through `row_to_json`). */
export function sessionFromRow(r: SessionRow): DeviceSession {
  return {
    authSession: r.auth_session,
    clientId: r.client_id,
    keyJkt: r.key_jkt,
    publicJwk: r.public_jwk,
    keyAlg: r.key_alg,
    status: r.status,
    createdAt: new Date(r.created_at),
    expiresAt: new Date(r.expires_at),
    absoluteExpiresAt: new Date(r.absolute_expires_at),
    kind: r.kind,
    user: r.user_id ? { userId: r.user_id, authTime: new Date(r.auth_time ?? r.created_at), amr: r.amr ?? [], acr: r.acr, verified: r.verified ?? [] } : undefined,
  };
}

export interface SessionRow {
  auth_session: string;
  client_id: string;
  key_jkt: string;
  public_jwk: PublicJwk;
  key_alg: string;
  status: DeviceSession['status'];
  created_at: Date | string;
  expires_at: Date | string;
  absolute_expires_at: Date | string;
  kind: SessionKind;
  user_id: string | null;
  auth_time: Date | string | null;
  amr: string[] | null;
  acr: string | null;
  verified: string[] | null;
}
