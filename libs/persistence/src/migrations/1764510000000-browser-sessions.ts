import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 9: an auth_session created by the browser authorization endpoint (bound to a cookie, not a
 * key) is a third kind; native bindings never accept it, nor it theirs.
 */
export class BrowserSessions1764510000000 implements MigrationInterface {
  name = 'BrowserSessions1764510000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE device_sessions DROP CONSTRAINT IF EXISTS device_sessions_kind_check`);
    await q.query(`ALTER TABLE device_sessions ADD CONSTRAINT device_sessions_kind_check CHECK (kind IN ('device', 'challenge', 'browser'))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE device_sessions DROP CONSTRAINT IF EXISTS device_sessions_kind_check`);
    await q.query(`ALTER TABLE device_sessions ADD CONSTRAINT device_sessions_kind_check CHECK (kind IN ('device', 'challenge'))`);
  }
}
