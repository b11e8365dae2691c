import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 10 (downstream side): a federating client's `redirect_to_app` policy (FED-8/FED-14) —
 * `{"deep_link": …, "app_client_ids": [...]}` in the client definition's wire names, null = never.
 * (`native_callback_uris`, the allow-list of FED-4, came with 1764500000000-client-metadata.)
 */
export class RedirectToApp1764810000000 implements MigrationInterface {
  name = 'RedirectToApp1764810000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE clients ADD COLUMN redirect_to_app jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE clients DROP COLUMN redirect_to_app`);
  }
}
