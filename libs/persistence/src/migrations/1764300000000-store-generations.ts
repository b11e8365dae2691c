import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 8: the ephemeral store's generations, recorded by the authorization server (one row each),
 * so a replica knows the latest one across restarts: a missing marker with no row is a first start
 * (nothing to refuse), with a row it is a loss. Indexes for refilling revocation flags in bounded
 * batches after a loss: live revoked access tokens by expiry, revoked sessions by revocation time.
 * Additive: the previous release ignores the table and indexes.
 */
export class StoreGenerations1764300000000 implements MigrationInterface {
  name = 'StoreGenerations1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE store_generations (
      epoch integer PRIMARY KEY,
      id text NOT NULL,
      started_at timestamptz NOT NULL,
      reason text NOT NULL,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      restored_at timestamptz
    )`);
    await q.query(`CREATE INDEX token_revocations_live_idx ON token_revocations (expires_at, jti)`);
    await q.query(`CREATE INDEX device_sessions_revoked_idx ON device_sessions (revoked_at, auth_session) WHERE revoked_at IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS device_sessions_revoked_idx`);
    await q.query(`DROP INDEX IF EXISTS token_revocations_live_idx`);
    await q.query(`DROP TABLE IF EXISTS store_generations`);
  }
}
