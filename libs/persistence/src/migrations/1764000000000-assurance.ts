import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 7: what an authentication proved (so assurance is computed from events, not method names),
 * the flow it belonged to, provisional credentials (enrolled on a weaker factor or through
 * recovery), failure counts per secret that survive restarted challenges, and a session lifetime
 * that never slides past its absolute end. One statement per query so PGlite and pg run it alike.
 */
export class Assurance1764000000000 implements MigrationInterface {
  name = 'Assurance1764000000000';

  async up(q: QueryRunner): Promise<void> {
    // The authorization request (flow) an event belongs to: "a later, separate authentication".
    await q.query(`ALTER TABLE user_authentications ADD COLUMN flow_id text`);
    // Independence class: two events of one class are one factor (two e-mail codes are not MFA).
    await q.query(`ALTER TABLE user_authentications ADD COLUMN factor text`);
    // 2 for a multi-factor authenticator (a passkey with user verification), else 1.
    await q.query(`ALTER TABLE user_authentications ADD COLUMN factors smallint NOT NULL DEFAULT 1 CHECK (factors IN (1, 2))`);
    await q.query(`ALTER TABLE user_authentications ADD COLUMN phishing_resistant boolean NOT NULL DEFAULT false`);
    await q.query(`ALTER TABLE user_authentications ADD COLUMN verifies text CHECK (verifies IN ('email', 'phone'))`);
    await q.query(`ALTER TABLE user_authentications ADD COLUMN credential_id text`);
    // false: made with a provisional credential, so it proves nothing beyond what enrolled it.
    await q.query(`ALTER TABLE user_authentications ADD COLUMN counted boolean NOT NULL DEFAULT true`);
    await q.query(`UPDATE user_authentications SET factor = method WHERE factor IS NULL`);

    // Provisional until used in a later, separate authentication (and, after recovery, a hold).
    await q.query(`ALTER TABLE user_credentials ADD COLUMN provisional boolean NOT NULL DEFAULT false`);
    await q.query(`ALTER TABLE user_credentials ADD COLUMN enrolled_flow text`);
    await q.query(`ALTER TABLE user_credentials ADD COLUMN trusted_after timestamptz`);
    // What allowed the enrolment: 'authentication' (a fresh factor at least as strong) or 'recovery'.
    await q.query(`ALTER TABLE user_credentials ADD COLUMN enrolled_by text NOT NULL DEFAULT 'authentication'`);
    // The strength of the factor that enrolled it: a provisional credential counts as this much.
    await q.query(`ALTER TABLE user_credentials ADD COLUMN basis_rank smallint NOT NULL DEFAULT 0`);

    // Failures per secret (a TOTP user, an OTP destination, a user's passkeys), not per flow.
    await q.query(`CREATE TABLE auth_attempts (
      key_hash text PRIMARY KEY,
      failures integer NOT NULL DEFAULT 0,
      last_failure_at timestamptz,
      locked_until timestamptz,
      last_charge text
    )`);

    // Sessions never outlive their absolute lifetime, whatever extends the idle expiry.
    await q.query(`ALTER TABLE device_sessions ADD COLUMN absolute_expires_at timestamptz`);
    await q.query(`UPDATE device_sessions SET absolute_expires_at = expires_at WHERE absolute_expires_at IS NULL`);
    await q.query(`ALTER TABLE device_sessions ALTER COLUMN absolute_expires_at SET NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE device_sessions DROP COLUMN absolute_expires_at`);
    await q.query(`DROP TABLE auth_attempts`);
    for (const c of ['provisional', 'enrolled_flow', 'trusted_after', 'enrolled_by', 'basis_rank']) await q.query(`ALTER TABLE user_credentials DROP COLUMN ${c}`);
    for (const c of ['flow_id', 'factor', 'factors', 'phishing_resistant', 'verifies', 'credential_id', 'counted']) await q.query(`ALTER TABLE user_authentications DROP COLUMN ${c}`);
  }
}
