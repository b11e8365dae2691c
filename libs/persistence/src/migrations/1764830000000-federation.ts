import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 10, the federating side (FED-5, FED-11, FED-12):
 * - `clients.routing_policy`: where a client's users authenticate (libs/clients routing-policy.ts);
 * - `federation_keys`: the suite's own keys as a client of downstream servers — one for its
 *   private_key_jwt assertions, one (distinct) for DPoP — private halves encrypted under
 *   KEY_ENCRYPTION_KEY like `signing_keys`; `purpose` is unique, so replicas that start together
 *   create one key each, not two;
 * - `federated_identities`: a downstream (issuer, subject) linked to one local user; the primary
 *   key makes linking race-safe (the loser of an insert race reads the winner's row).
 */
export class Federation1764830000000 implements MigrationInterface {
  name = 'Federation1764830000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE clients ADD COLUMN routing_policy jsonb`);
    await q.query(`CREATE TABLE federation_keys (
      purpose text PRIMARY KEY CHECK (purpose IN ('assertion', 'dpop')),
      kid text NOT NULL UNIQUE,
      alg text NOT NULL,
      public_jwk jsonb NOT NULL,
      private_jwe text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE federated_identities (
      issuer text NOT NULL,
      subject text NOT NULL,
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_login_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (issuer, subject)
    )`);
    await q.query(`CREATE INDEX federated_identities_user ON federated_identities (user_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE federated_identities`);
    await q.query(`DROP TABLE federation_keys`);
    await q.query(`ALTER TABLE clients DROP COLUMN routing_policy`);
  }
}
