import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 9: a refresh token carries the authorization details granted with its code (RFC 9396 §6.1:
 * the resource owner's authorization is unchanged by a token request that narrows), so every refresh
 * issues the same details, or a subset the request names (RAR-5). Rotations copy it. Nullable and
 * without a default: adding it rewrites nothing, and the janitor, which deletes whole rows by
 * expiry and session, never reads it.
 */
export class RefreshTokenAuthorizationDetails1764700000000 implements MigrationInterface {
  name = 'RefreshTokenAuthorizationDetails1764700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE refresh_tokens ADD COLUMN authorization_details jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE refresh_tokens DROP COLUMN authorization_details`);
  }
}
