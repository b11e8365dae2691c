import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 10 (downstream side): a federating client's `redirect_to_app` policy (FED-8/FED-14) —
 * `{"deep_link": …, "app_client_ids": [...]}` in the client definition's wire names, null = never.
 * (`native_callback_uris`, the allow-list of FED-4, came with 1764500000000-client-metadata.) And a
 * fourth session kind: `federated`, the challenge session of a request a federating client pushed
 * (FED-11), bound to the end user's app key; the native bindings of first-party clients never take it.
 */
export class FederatedDownstream1764810000000 implements MigrationInterface {
  name = 'FederatedDownstream1764810000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE clients ADD COLUMN redirect_to_app jsonb`);
    await q.query(`ALTER TABLE device_sessions DROP CONSTRAINT IF EXISTS device_sessions_kind_check`);
    await q.query(`ALTER TABLE device_sessions ADD CONSTRAINT device_sessions_kind_check CHECK (kind IN ('device', 'challenge', 'browser', 'federated'))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM device_sessions WHERE kind = 'federated'`);
    await q.query(`ALTER TABLE device_sessions DROP CONSTRAINT IF EXISTS device_sessions_kind_check`);
    await q.query(`ALTER TABLE device_sessions ADD CONSTRAINT device_sessions_kind_check CHECK (kind IN ('device', 'challenge', 'browser'))`);
    await q.query(`ALTER TABLE clients DROP COLUMN redirect_to_app`);
  }
}
