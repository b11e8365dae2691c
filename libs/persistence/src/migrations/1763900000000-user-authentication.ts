import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 3: users, their authentication records and enrolled credentials, authorization codes,
 * and the user attached to a session. One statement per query so PGlite and pg run it alike.
 */
export class UserAuthentication1763900000000 implements MigrationInterface {
  name = 'UserAuthentication1763900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE users (
      id uuid PRIMARY KEY,
      email text UNIQUE,
      email_verified_at timestamptz,
      phone text UNIQUE,
      phone_verified_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    // FIPA-23..26: an auth_session is a device session (registered device key) or a challenge
    // session (created at the challenge endpoint and bound to the client's DPoP key).
    await q.query(`ALTER TABLE device_sessions ADD COLUMN kind text NOT NULL DEFAULT 'device' CHECK (kind IN ('device', 'challenge'))`);
    await q.query(`ALTER TABLE device_sessions ADD COLUMN user_id uuid REFERENCES users (id)`);
    await q.query(`ALTER TABLE device_sessions ADD COLUMN auth_time timestamptz`);
    await q.query(`ALTER TABLE device_sessions ADD COLUMN amr text[] NOT NULL DEFAULT '{}'`);
    await q.query(`ALTER TABLE device_sessions ADD COLUMN acr text`);
    await q.query(`ALTER TABLE device_sessions ADD COLUMN verified text[] NOT NULL DEFAULT '{}'`);
    await q.query(`CREATE INDEX device_sessions_user_idx ON device_sessions (user_id)`);
    // Every verified user authentication, readable by session and by user.
    await q.query(`CREATE TABLE user_authentications (
      id bigserial PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES users (id),
      auth_session text NOT NULL,
      method text NOT NULL,
      amr text[] NOT NULL,
      verified_value text,
      authenticated_at timestamptz NOT NULL
    )`);
    await q.query(`CREATE INDEX user_authentications_session_idx ON user_authentications (auth_session, authenticated_at)`);
    await q.query(`CREATE INDEX user_authentications_user_idx ON user_authentications (user_id, authenticated_at)`);
    // Enrolled authenticators (TOTP secrets, passkeys). `secret_jwe` is encrypted under KEY_ENCRYPTION_KEY.
    await q.query(`CREATE TABLE user_credentials (
      method text NOT NULL,
      credential_id text NOT NULL,
      user_id uuid NOT NULL REFERENCES users (id),
      public_data jsonb NOT NULL DEFAULT '{}',
      secret_jwe text,
      counter bigint NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_used_at timestamptz,
      PRIMARY KEY (method, credential_id)
    )`);
    await q.query(`CREATE INDEX user_credentials_user_idx ON user_credentials (user_id, method)`);
    // FIPA-29, GEN-3: single use, short-lived, bound to client, session, PKCE and DPoP key; hashed.
    await q.query(`CREATE TABLE authorization_codes (
      code_hash text PRIMARY KEY,
      client_id text NOT NULL REFERENCES clients (client_id),
      auth_session text NOT NULL,
      user_id uuid NOT NULL REFERENCES users (id),
      dpop_jkt text,
      code_challenge text,
      scope text NOT NULL DEFAULT '',
      resource text,
      acr text,
      amr text[] NOT NULL DEFAULT '{}',
      auth_time timestamptz NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      consumed_at timestamptz,
      access_token_jti text,
      access_token_expires_at timestamptz,
      refresh_family_id uuid
    )`);
    await q.query(`CREATE INDEX authorization_codes_expiry_idx ON authorization_codes (expires_at)`);
    // Which methods satisfy which acr_values, per client (null = the built-in policy).
    await q.query(`ALTER TABLE clients ADD COLUMN challenge_policy jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE clients DROP COLUMN challenge_policy`);
    for (const t of ['authorization_codes', 'user_credentials', 'user_authentications']) await q.query(`DROP TABLE IF EXISTS ${t}`);
    for (const c of ['verified', 'acr', 'amr', 'auth_time', 'user_id', 'kind']) await q.query(`ALTER TABLE device_sessions DROP COLUMN ${c}`);
    await q.query(`DROP TABLE IF EXISTS users`);
  }
}
