import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 12 (seed 001, CONTRACT §6): PoP tokens.
 * - `refresh_tokens.pop`: the PoP key a refresh must keep (ACE-5): `{"jwk": <public JWK>}` for a
 *   client's key, `{"jwe": "<compact JWE>", "kid": ...}` for a generated symmetric key — the JWE is
 *   the one encrypted for the resource server, copied into every refreshed access token, so the
 *   suite never stores the symmetric key itself. Nullable: DPoP and Bearer families have none.
 * - `pop_keys`: the public keys a client proved at `/token` for a PoP token, so a later request can
 *   name one with `req_cnf={"kid": "<RFC 7638 thumbprint>"}` (RFC 9201 §3.1). Deleted with the client's
 *   last use + the refresh-token lifetime by the janitor's expiry sweep (`expires_at`).
 */
export class PopTokens1764910000000 implements MigrationInterface {
  name = 'PopTokens1764910000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE refresh_tokens ADD COLUMN pop jsonb`);
    await q.query(
      `CREATE TABLE pop_keys (
         client_id text NOT NULL,
         kid text NOT NULL,
         jwk jsonb NOT NULL,
         created_at timestamptz NOT NULL,
         expires_at timestamptz NOT NULL,
         PRIMARY KEY (client_id, kid)
       )`,
    );
    await q.query(`CREATE INDEX pop_keys_expires_at ON pop_keys (expires_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE pop_keys`);
    await q.query(`ALTER TABLE refresh_tokens DROP COLUMN pop`);
  }
}
