import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 7 (JWTCA-9): a client may opt out of the strict assertion audience (the issuer as the sole
 * `aud`, now the default) with `assertion_audience = 'issuer_or_endpoint'`; NULL follows
 * ASSERTION_STRICT_AUDIENCE. Additive: the previous release ignores the column.
 */
export class ClientAssertionAudience1764100000000 implements MigrationInterface {
  name = 'ClientAssertionAudience1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE clients ADD COLUMN assertion_audience text CHECK (assertion_audience IN ('issuer', 'issuer_or_endpoint'))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE clients DROP COLUMN assertion_audience`);
  }
}
