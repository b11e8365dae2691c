import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { decryptSecret, encryptSecret } from '@fpa/crypto';
import { sqlRunner, type SqlRunner } from '@fpa/persistence';

export type Identity = { readonly type: 'email'; readonly value: string } | { readonly type: 'phone'; readonly value: string } | { readonly type: 'user'; readonly id: string };

export interface User {
  readonly id: string;
  readonly email: string | null;
  readonly emailVerified: boolean;
  readonly phone: string | null;
  readonly phoneVerified: boolean;
}

export interface AuthenticationRecord {
  readonly method: string;
  readonly amr: readonly string[];
  readonly userId: string;
  readonly authenticatedAt: Date;
}

export interface StoredCredential {
  readonly method: string;
  readonly credentialId: string;
  readonly userId: string;
  readonly publicData: Record<string, unknown>;
  /** Decrypted on read; stored only as JWE. */
  readonly secret: string | undefined;
  readonly counter: number;
}

export interface NewCredential {
  readonly method: string;
  readonly credentialId: string;
  readonly publicData: Record<string, unknown>;
  readonly secret?: string;
  readonly counter?: number;
}

/**
 * Users, their authentication records and enrolled credentials. A verified email or phone finds
 * or creates the user in one statement (`ON CONFLICT`), so two sessions verifying the same address
 * at once end up with one account.
 */
@Injectable()
export class UsersService {
  private readonly sql: SqlRunner;

  constructor(
    @InjectDataSource() ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.sql = sqlRunner(ds);
  }

  async resolve(identity: Identity, now: Date): Promise<User | undefined> {
    if (identity.type === 'user') return this.find(identity.id);
    const column = identity.type === 'email' ? 'email' : 'phone';
    const rows = await this.sql<UserRow>(
      `INSERT INTO users (id, ${column}, ${column}_verified_at, created_at) VALUES ($1, $2, $3, $3)
       ON CONFLICT (${column}) DO UPDATE SET ${column}_verified_at = EXCLUDED.${column}_verified_at
       RETURNING id, email, email_verified_at, phone, phone_verified_at`,
      [randomUUID(), identity.value, now],
    );
    return toUser(rows[0]);
  }

  async find(id: string): Promise<User | undefined> {
    if (!/^[0-9a-f-]{36}$/.test(id)) return undefined;
    const rows = await this.sql<UserRow>('SELECT id, email, email_verified_at, phone, phone_verified_at FROM users WHERE id = $1', [id]);
    return rows[0] ? toUser(rows[0]) : undefined;
  }

  async findByEmail(email: string): Promise<User | undefined> {
    const rows = await this.sql<UserRow>('SELECT id, email, email_verified_at, phone, phone_verified_at FROM users WHERE email = $1', [email]);
    return rows[0] ? toUser(rows[0]) : undefined;
  }

  async recordAuthentication(r: { userId: string; authSession: string; method: string; amr: readonly string[]; verifiedValue: string | null; at: Date }): Promise<void> {
    await this.sql(
      'INSERT INTO user_authentications (user_id, auth_session, method, amr, verified_value, authenticated_at) VALUES ($1, $2, $3, $4, $5, $6)',
      [r.userId, r.authSession, r.method, [...r.amr], r.verifiedValue, r.at],
    );
  }

  /** The session's authentications, newest first. */
  async sessionAuthentications(authSession: string): Promise<AuthenticationRecord[]> {
    const rows = await this.sql<{ method: string; amr: string[]; user_id: string; authenticated_at: Date }>(
      'SELECT method, amr, user_id, authenticated_at FROM user_authentications WHERE auth_session = $1 ORDER BY authenticated_at DESC, id DESC LIMIT 50',
      [authSession],
    );
    return rows.map((r) => ({ method: r.method, amr: r.amr, userId: r.user_id, authenticatedAt: new Date(r.authenticated_at) }));
  }

  // --- enrolled credentials -------------------------------------------------------------------

  async credentials(userId: string, method: string): Promise<StoredCredential[]> {
    const rows = await this.sql<CredentialRow>('SELECT * FROM user_credentials WHERE user_id = $1 AND method = $2 ORDER BY created_at', [userId, method]);
    return Promise.all(rows.map((r) => this.toCredential(r)));
  }

  async credential(method: string, credentialId: string): Promise<StoredCredential | undefined> {
    const rows = await this.sql<CredentialRow>('SELECT * FROM user_credentials WHERE method = $1 AND credential_id = $2', [method, credentialId]);
    return rows[0] ? this.toCredential(rows[0]) : undefined;
  }

  /** Stores a new credential; false when that credential id is already registered. */
  async addCredential(userId: string, c: NewCredential, now: Date): Promise<boolean> {
    const secretJwe = c.secret === undefined ? null : await encryptSecret(c.secret, `${c.method}:${c.credentialId}`, this.kek());
    const rows = await this.sql(
      `INSERT INTO user_credentials (method, credential_id, user_id, public_data, secret_jwe, counter, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING credential_id`,
      [c.method, c.credentialId, userId, JSON.stringify(c.publicData), secretJwe, c.counter ?? 0, now],
    );
    return rows.length === 1;
  }

  /**
   * Records a use. With `counter`, the update succeeds only when it moves the counter forward
   * (TOTP time step, WebAuthn sign count), so one code or assertion counts once even under races.
   */
  async recordCredentialUse(method: string, credentialId: string, now: Date, counter?: number): Promise<boolean> {
    const rows =
      counter === undefined
        ? await this.sql('UPDATE user_credentials SET last_used_at = $3 WHERE method = $1 AND credential_id = $2 RETURNING credential_id', [method, credentialId, now])
        : await this.sql(
            'UPDATE user_credentials SET last_used_at = $3, counter = $4 WHERE method = $1 AND credential_id = $2 AND counter < $4 RETURNING credential_id',
            [method, credentialId, now, counter],
          );
    return rows.length === 1;
  }

  private async toCredential(r: CredentialRow): Promise<StoredCredential> {
    return {
      method: r.method,
      credentialId: r.credential_id,
      userId: r.user_id,
      publicData: r.public_data,
      secret: r.secret_jwe ? await decryptSecret(r.secret_jwe, `${r.method}:${r.credential_id}`, this.kek()) : undefined,
      counter: Number(r.counter),
    };
  }

  private kek(): Uint8Array {
    const kek = this.config.keys.encryptionKey;
    if (!kek) throw new Error('KEY_ENCRYPTION_KEY is not configured');
    return kek;
  }
}

interface UserRow {
  id: string;
  email: string | null;
  email_verified_at: Date | null;
  phone: string | null;
  phone_verified_at: Date | null;
}

interface CredentialRow {
  method: string;
  credential_id: string;
  user_id: string;
  public_data: Record<string, unknown>;
  secret_jwe: string | null;
  counter: string | number;
}

function toUser(r: UserRow): User {
  return { id: r.id, email: r.email, emailVerified: r.email_verified_at !== null, phone: r.phone, phoneVerified: r.phone_verified_at !== null };
}
