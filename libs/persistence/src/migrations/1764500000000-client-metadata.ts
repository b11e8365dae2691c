import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 9: what ordinary OAuth clients register (RFC 7591 names) — redirect URIs for the browser
 * endpoint, a public key set for private_key_jwt (inline or by URL), the RAR types a client may
 * ask for, its native callback URIs (FED-3), PAR required per client, a logo for the login page —
 * and what a code carries for them (its redirect URI and granted authorization details).
 */
export class ClientMetadata1764500000000 implements MigrationInterface {
  name = 'ClientMetadata1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE clients ADD COLUMN redirect_uris text[] NOT NULL DEFAULT '{}'`);
    await q.query(`ALTER TABLE clients ADD COLUMN jwks jsonb`);
    await q.query(`ALTER TABLE clients ADD COLUMN jwks_uri text`);
    await q.query(`ALTER TABLE clients ADD COLUMN authorization_details_types text[] NOT NULL DEFAULT '{}'`);
    await q.query(`ALTER TABLE clients ADD COLUMN native_callback_uris text[] NOT NULL DEFAULT '{}'`);
    await q.query(`ALTER TABLE clients ADD COLUMN require_pushed_authorization_requests boolean NOT NULL DEFAULT false`);
    await q.query(`ALTER TABLE clients ADD COLUMN logo_uri text`);
    // RFC 6749 §4.1.3: a code issued for a redirect URI is redeemed with exactly that URI.
    await q.query(`ALTER TABLE authorization_codes ADD COLUMN redirect_uri text`);
    // RFC 9396 §6/§7: what was granted, bound to the code.
    await q.query(`ALTER TABLE authorization_codes ADD COLUMN authorization_details jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE authorization_codes DROP COLUMN authorization_details`);
    await q.query(`ALTER TABLE authorization_codes DROP COLUMN redirect_uri`);
    for (const c of ['logo_uri', 'require_pushed_authorization_requests', 'native_callback_uris', 'authorization_details_types', 'jwks_uri', 'jwks', 'redirect_uris']) {
      await q.query(`ALTER TABLE clients DROP COLUMN ${c}`);
    }
  }
}
