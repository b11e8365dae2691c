import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 10, OpenID Federation 1.0: the suite's federation entity keys, which sign its entity
 * configuration (`/.well-known/openid-federation`). Kept apart from `signing_keys`; the private
 * key is a JWE under KEY_ENCRYPTION_KEY, as there.
 */
export class OpenIdFederation1764820000000 implements MigrationInterface {
  name = 'OpenIdFederation1764820000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS federation_entity_keys (
      kid text PRIMARY KEY,
      alg text NOT NULL CHECK (alg IN ('ES256', 'RS256')),
      public_jwk jsonb NOT NULL,
      private_jwe text NOT NULL,
      created_at timestamptz NOT NULL,
      expires_at timestamptz
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS federation_entity_keys`);
  }
}
