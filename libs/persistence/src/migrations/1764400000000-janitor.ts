import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 8 item 5, the janitor: a record of its runs (the apps read the last one at scrape time, since a
 * CronJob cannot be scraped) and the indexes its batches walk, so each batch finds its next rows by
 * index instead of scanning the table.
 *
 * Outside a transaction: the indexes are built CONCURRENTLY, so a production migration never blocks
 * writes to refresh_tokens or device_sessions while it builds. Every statement is idempotent
 * (IF NOT EXISTS), so a migration interrupted half-way is simply run again.
 */
export class Janitor1764400000000 implements MigrationInterface {
  name = 'Janitor1764400000000';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS janitor_runs (
      id bigserial PRIMARY KEY,
      started_at timestamptz NOT NULL,
      finished_at timestamptz,
      outcome text NOT NULL DEFAULT 'running' CHECK (outcome IN ('running', 'success', 'failure')),
      deleted jsonb NOT NULL DEFAULT '{}',
      batches integer NOT NULL DEFAULT 0,
      error text
    )`);
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS janitor_runs_finished_idx ON janitor_runs (finished_at)`);
    // A session is dead from the first of its idle expiry, absolute end and revocation (LEAST skips NULL).
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS device_sessions_dead_idx ON device_sessions ((LEAST(expires_at, absolute_expires_at, revoked_at)))`);
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS refresh_tokens_expiry_idx ON refresh_tokens (expires_at)`);
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS authorization_codes_session_idx ON authorization_codes (auth_session)`);
    // Unredeemed codes die at expiry; redeemed ones with their access token, or with their refresh family
    // (which dies in the order the codes were redeemed).
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS authorization_codes_unconsumed_idx ON authorization_codes (expires_at) WHERE consumed_at IS NULL`);
    await q.query(
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS authorization_codes_token_only_idx ON authorization_codes (access_token_expires_at) WHERE consumed_at IS NOT NULL AND refresh_family_id IS NULL`,
    );
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS authorization_codes_family_idx ON authorization_codes (consumed_at) WHERE refresh_family_id IS NOT NULL`);
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS token_revocations_expiry_idx ON token_revocations (expires_at)`);
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS auth_attempts_last_failure_idx ON auth_attempts (last_failure_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const index of ['auth_attempts_last_failure_idx', 'token_revocations_expiry_idx', 'authorization_codes_family_idx', 'authorization_codes_token_only_idx', 'authorization_codes_unconsumed_idx', 'authorization_codes_session_idx', 'refresh_tokens_expiry_idx', 'device_sessions_dead_idx']) {
      await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ${index}`);
    }
    await q.query(`DROP TABLE IF EXISTS janitor_runs`);
  }
}
