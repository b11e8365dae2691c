import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Device flow schema (issue 2). One statement per query so PGlite and pg run it alike. */
export class Initial1763800000000 implements MigrationInterface {
  name = 'Initial1763800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE clients (
      client_id text PRIMARY KEY CHECK (client_id ~ '^[A-Za-z0-9._:-]{1,128}$'),
      name text NOT NULL,
      client_type text NOT NULL CHECK (client_type IN ('public', 'confidential')),
      first_party boolean NOT NULL DEFAULT false,
      grant_types text[] NOT NULL DEFAULT '{}',
      auth_methods text[] NOT NULL DEFAULT '{}',
      secret_hash text,
      scopes text[] NOT NULL DEFAULT '{}',
      resources text[] NOT NULL DEFAULT '{}',
      permissions text[] NOT NULL DEFAULT '{}',
      dpop_bound_access_tokens boolean NOT NULL DEFAULT true,
      enabled boolean NOT NULL DEFAULT true,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE device_sessions (
      auth_session text PRIMARY KEY,
      client_id text NOT NULL REFERENCES clients (client_id),
      key_jkt text NOT NULL,
      public_jwk jsonb NOT NULL,
      key_alg text NOT NULL,
      status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      revoked_at timestamptz,
      registered_ip text
    )`);
    await q.query(`CREATE INDEX device_sessions_client_idx ON device_sessions (client_id)`);
    await q.query(`CREATE INDEX device_sessions_expiry_idx ON device_sessions (expires_at)`);
    await q.query(`CREATE TABLE signing_keys (
      kid text PRIMARY KEY,
      alg text NOT NULL CHECK (alg IN ('ES256', 'RS256')),
      public_jwk jsonb NOT NULL,
      private_jwe text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      activates_at timestamptz NOT NULL,
      deactivated_at timestamptz,
      expires_at timestamptz
    )`);
    await q.query(`CREATE TABLE refresh_tokens (
      id uuid PRIMARY KEY,
      token_hash text NOT NULL UNIQUE,
      family_id uuid NOT NULL,
      parent_id uuid,
      client_id text NOT NULL REFERENCES clients (client_id),
      auth_session text NOT NULL,
      subject text NOT NULL,
      jkt text,
      scope text NOT NULL DEFAULT '',
      audience text NOT NULL,
      access_token_jti text NOT NULL,
      access_token_expires_at timestamptz NOT NULL,
      status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'rotated', 'revoked')),
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      used_at timestamptz,
      revoked_at timestamptz,
      revoked_reason text
    )`);
    await q.query(`CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id)`);
    await q.query(`CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (auth_session)`);
    await q.query(`CREATE TABLE token_revocations (
      jti text PRIMARY KEY,
      expires_at timestamptz NOT NULL,
      revoked_at timestamptz NOT NULL DEFAULT now(),
      reason text NOT NULL
    )`);
    await q.query(`CREATE TABLE audit_events (
      id bigserial PRIMARY KEY,
      occurred_at timestamptz NOT NULL DEFAULT now(),
      event_type text NOT NULL,
      outcome text NOT NULL DEFAULT 'success',
      client_id text,
      auth_session text,
      subject text,
      ip text,
      request_id text,
      details jsonb NOT NULL DEFAULT '{}'
    )`);
    await q.query(`CREATE INDEX audit_events_time_idx ON audit_events (occurred_at)`);
    await q.query(`CREATE INDEX audit_events_type_idx ON audit_events (event_type, occurred_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['audit_events', 'token_revocations', 'refresh_tokens', 'signing_keys', 'device_sessions', 'clients']) {
      await q.query(`DROP TABLE IF EXISTS ${t}`);
    }
  }
}
