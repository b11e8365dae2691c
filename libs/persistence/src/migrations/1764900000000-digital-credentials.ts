import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 11, digital credentials:
 * - `clients.origins`: a first-party app's web origins (the DC API's `expected_origins`, VP-3);
 * - `clients.openid4vp_redirect_uris`: where a same-device wallet returns the user (WALLET-1);
 * - `credential_identities`: (credential issuer, stable claim value) → one local user (VP-7), with
 *   only the disclosed claims the policy keeps (data minimisation). The primary key settles a race.
 */
export class DigitalCredentials1764900000000 implements MigrationInterface {
  name = 'DigitalCredentials1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE clients ADD COLUMN origins text[] NOT NULL DEFAULT '{}'`);
    await q.query(`ALTER TABLE clients ADD COLUMN openid4vp_redirect_uris text[] NOT NULL DEFAULT '{}'`);
    await q.query(`CREATE TABLE credential_identities (
      issuer text NOT NULL,
      subject text NOT NULL,
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      claims jsonb NOT NULL DEFAULT '{}',
      created_at timestamptz NOT NULL DEFAULT now(),
      last_login_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (issuer, subject)
    )`);
    await q.query(`CREATE INDEX credential_identities_user ON credential_identities (user_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE credential_identities`);
    await q.query(`ALTER TABLE clients DROP COLUMN openid4vp_redirect_uris`);
    await q.query(`ALTER TABLE clients DROP COLUMN origins`);
  }
}
