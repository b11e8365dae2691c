import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { sqlRunner, type SqlRunner } from '@fpa/persistence';
import { EPHEMERAL_STORE, StoreKeys, type EphemeralStore } from '@fpa/store';
import { sessionFlagSeconds } from './revocation.service';

/** Rows per statement and flags per Redis pipeline. */
const BATCH = 1000;

export interface RestoredFlags {
  readonly accessTokens: number;
  readonly sessions: number;
}

/**
 * Refills the revocation flags resource servers read (RevocationService writes them) from the
 * PostgreSQL record, after the ephemeral store lost its data (issue 8, item 3): every revoked access
 * token that has not expired, every revoked session whose flag would still be kept. Keyset batches
 * (indexes of migration 1764300000000), so no statement holds more than `BATCH` rows or long locks.
 */
@Injectable()
export class RevocationRestorer {
  private readonly sql: SqlRunner;

  constructor(
    @InjectDataSource() ds: DataSource,
    @Inject(EPHEMERAL_STORE) private readonly store: EphemeralStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.sql = sqlRunner(ds);
  }

  async restore(now: Date): Promise<RestoredFlags> {
    const nowMs = now.getTime();
    let accessTokens = 0;
    // Keyset positions travel as PostgreSQL's own text (microseconds), not as a JS Date (milliseconds).
    let after: [string, string] = [now.toISOString(), ''];
    for (;;) {
      const rows = await this.sql<{ jti: string; expires_at: Date; position: string }>(
        `SELECT jti, expires_at, expires_at::text AS position FROM token_revocations
         WHERE (expires_at, jti) > ($1::timestamptz, $2) ORDER BY expires_at, jti LIMIT ${BATCH}`,
        after,
      );
      // The same lifetime RevocationService gives a flag: the token's remaining life plus 5 s.
      await this.store.setFlags(rows.map((r) => ({ key: StoreKeys.revokedAccessToken(r.jti), ttlSeconds: (new Date(r.expires_at).getTime() - nowMs) / 1000 + 5 })));
      accessTokens += rows.length;
      if (rows.length < BATCH) break;
      const last = rows[rows.length - 1];
      after = [last.position, last.jti];
    }
    const window = sessionFlagSeconds(this.config);
    let sessions = 0;
    let since: [string, string] = [new Date(nowMs - window * 1000).toISOString(), ''];
    for (;;) {
      const rows = await this.sql<{ auth_session: string; revoked_at: Date; position: string }>(
        `SELECT auth_session, revoked_at, revoked_at::text AS position FROM device_sessions
         WHERE revoked_at IS NOT NULL AND status = 'revoked' AND (revoked_at, auth_session) > ($1::timestamptz, $2)
         ORDER BY revoked_at, auth_session LIMIT ${BATCH}`,
        since,
      );
      await this.store.setFlags(
        rows.map((r) => ({ key: StoreKeys.revokedSession(r.auth_session), ttlSeconds: Math.max(1, window - (nowMs - new Date(r.revoked_at).getTime()) / 1000) })),
      );
      sessions += rows.length;
      if (rows.length < BATCH) break;
      const last = rows[rows.length - 1];
      since = [last.position, last.auth_session];
    }
    return { accessTokens, sessions };
  }
}
