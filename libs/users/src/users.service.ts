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

/** One verified authentication of a session, with what it proved (the assurance function's input). */
export interface AuthenticationRecord {
  readonly method: string;
  readonly amr: readonly string[];
  readonly userId: string;
  readonly authenticatedAt: Date;
  readonly flowId: string | null;
  readonly factor: string;
  readonly factors: 1 | 2;
  readonly phishingResistant: boolean;
  readonly verifies: 'email' | 'phone' | null;
  readonly credentialId: string | null;
  readonly counted: boolean;
}

export type NewAuthenticationRecord = Omit<AuthenticationRecord, 'authenticatedAt'> & { readonly authSession: string; readonly verifiedValue: string | null; readonly at: Date };

export interface StoredCredential {
  readonly method: string;
  readonly credentialId: string;
  readonly userId: string;
  readonly publicData: Record<string, unknown>;
  /** Decrypted on read; stored only as JWE. */
  readonly secret: string | undefined;
  readonly counter: number;
  /** Enrolled on a weaker factor (or by recovery): proves no more than that until used in a later flow. */
  readonly provisional: boolean;
  /** The authorization request (flow) that enrolled it: nothing counts in that flow. */
  readonly enrolledFlow: string | null;
  /** A recovered credential proves nothing before this (epoch ms). */
  readonly trustedAfterMs: number | null;
  /** The strength of what enrolled it (the bar a provisional credential sets for further enrolments). */
  readonly basisRank: number;
}

export interface NewCredential {
  readonly method: string;
  readonly credentialId: string;
  readonly publicData: Record<string, unknown>;
  readonly secret?: string;
  readonly counter?: number;
}

/** How a credential came to be, recorded by the core with it (issue 7 finding 1). */
export interface Enrolment {
  readonly flowId: string;
  readonly provisional: boolean;
  readonly basisRank: number;
  readonly by: 'authentication' | 'recovery';
  readonly trustedAfter: Date | null;
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

  /**
   * The user a verified identifier names. Without `existingOnly` an unknown address creates the
   * user (one statement, `ON CONFLICT`); with it (a session that already has a user) nothing is
   * created: identifiers are not linked to an account here — one added on the strength of another
   * factor would itself be a climb — so an address of nobody, or of someone else, is simply not
   * this user.
   */
  async resolve(identity: Identity, now: Date, options: { existingOnly?: boolean } = {}): Promise<User | undefined> {
    if (identity.type === 'user') return this.find(identity.id);
    const column = identity.type === 'email' ? 'email' : 'phone';
    if (options.existingOnly) {
      const found = await this.sql<UserRow>(
        `UPDATE users SET ${column}_verified_at = $2 WHERE ${column} = $1 RETURNING id, email, email_verified_at, phone, phone_verified_at`,
        [identity.value, now],
      );
      return found[0] ? toUser(found[0]) : undefined;
    }
    const rows = await this.sql<UserRow>(
      `INSERT INTO users (id, ${column}, ${column}_verified_at, created_at) VALUES ($1, $2, $3, $3)
       ON CONFLICT (${column}) DO UPDATE SET ${column}_verified_at = EXCLUDED.${column}_verified_at
       RETURNING id, email, email_verified_at, phone, phone_verified_at`,
      [randomUUID(), identity.value, now],
    );
    return toUser(rows[0]);
  }

  /**
   * `resolve` (no `existingOnly`) and `recordAuthentication` of the user it yields, in one
   * statement (issue 13: one round trip instead of two on every answer that identifies a user).
   */
  async resolveAndRecord(identity: Extract<Identity, { type: 'email' | 'phone' }>, now: Date, r: Omit<NewAuthenticationRecord, 'userId'>): Promise<User> {
    const column = identity.type === 'email' ? 'email' : 'phone';
    const rows = await this.sql<UserRow>(
      `WITH u AS (
         INSERT INTO users (id, ${column}, ${column}_verified_at, created_at) VALUES ($1, $2, $3, $3)
         ON CONFLICT (${column}) DO UPDATE SET ${column}_verified_at = EXCLUDED.${column}_verified_at
         RETURNING id, email, email_verified_at, phone, phone_verified_at
       ), a AS (
         INSERT INTO user_authentications (user_id, auth_session, method, amr, verified_value, authenticated_at, flow_id, factor, factors, phishing_resistant, verifies, credential_id, counted)
         SELECT u.id, $4, $5, $6::text[], $7, $8::timestamptz, $9, $10, $11::smallint, $12::boolean, $13, $14, $15::boolean FROM u
       )
       SELECT id, email, email_verified_at, phone, phone_verified_at FROM u`,
      [randomUUID(), identity.value, now, r.authSession, r.method, [...r.amr], r.verifiedValue, r.at, r.flowId, r.factor, r.factors, r.phishingResistant, r.verifies, r.credentialId, r.counted],
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

  async recordAuthentication(r: NewAuthenticationRecord): Promise<void> {
    await this.sql(
      `INSERT INTO user_authentications (user_id, auth_session, method, amr, verified_value, authenticated_at, flow_id, factor, factors, phishing_resistant, verifies, credential_id, counted)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [r.userId, r.authSession, r.method, [...r.amr], r.verifiedValue, r.at, r.flowId, r.factor, r.factors, r.phishingResistant, r.verifies, r.credentialId, r.counted],
    );
  }

  /** The session's authentications, newest first (the 50 newest: more never changes an assessment). */
  async sessionAuthentications(authSession: string): Promise<AuthenticationRecord[]> {
    const rows = await this.sql<AuthenticationRow>(
      `SELECT method, amr, user_id, authenticated_at, flow_id, factor, factors, phishing_resistant, verifies, credential_id, counted
       FROM user_authentications WHERE auth_session = $1 ORDER BY authenticated_at DESC, id DESC LIMIT 50`,
      [authSession],
    );
    return rows.map((r) => ({
      method: r.method,
      amr: r.amr,
      userId: r.user_id,
      authenticatedAt: new Date(r.authenticated_at),
      flowId: r.flow_id,
      factor: r.factor ?? r.method,
      factors: r.factors === 2 ? 2 : 1,
      phishingResistant: r.phishing_resistant,
      verifies: r.verifies,
      credentialId: r.credential_id,
      counted: r.counted,
    }));
  }

  // --- enrolled credentials -------------------------------------------------------------------

  async credentials(userId: string, method: string): Promise<StoredCredential[]> {
    const rows = await this.sql<CredentialRow>('SELECT * FROM user_credentials WHERE user_id = $1 AND method = $2 ORDER BY created_at', [userId, method]);
    return Promise.all(rows.map((r) => this.toCredential(r)));
  }

  /** Every credential the user holds, without secrets (what the enrolment rule weighs). */
  async heldCredentials(userId: string): Promise<Omit<StoredCredential, 'secret'>[]> {
    const rows = await this.sql<CredentialRow>('SELECT * FROM user_credentials WHERE user_id = $1 ORDER BY created_at', [userId]);
    return rows.map((r) => ({ ...this.toPublicCredential(r) }));
  }

  async credential(method: string, credentialId: string): Promise<StoredCredential | undefined> {
    const rows = await this.sql<CredentialRow>('SELECT * FROM user_credentials WHERE method = $1 AND credential_id = $2', [method, credentialId]);
    return rows[0] ? this.toCredential(rows[0]) : undefined;
  }

  /** Stores a new credential with how it was enrolled; false when that credential id is already registered. */
  async addCredential(userId: string, c: NewCredential, enrolment: Enrolment, now: Date): Promise<boolean> {
    const secretJwe = c.secret === undefined ? null : await encryptSecret(c.secret, `${c.method}:${c.credentialId}`, this.kek());
    const rows = await this.sql(
      `INSERT INTO user_credentials (method, credential_id, user_id, public_data, secret_jwe, counter, created_at, provisional, enrolled_flow, trusted_after, enrolled_by, basis_rank)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING RETURNING credential_id`,
      [c.method, c.credentialId, userId, JSON.stringify(c.publicData), secretJwe, c.counter ?? 0, now, enrolment.provisional, enrolment.flowId, enrolment.trustedAfter, enrolment.by, enrolment.basisRank],
    );
    return rows.length === 1;
  }

  /** A provisional credential used in a later, separate authentication becomes a full one. */
  async promoteCredential(method: string, credentialId: string): Promise<void> {
    await this.sql('UPDATE user_credentials SET provisional = false WHERE method = $1 AND credential_id = $2', [method, credentialId]);
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
    return { ...this.toPublicCredential(r), secret: r.secret_jwe ? await decryptSecret(r.secret_jwe, `${r.method}:${r.credential_id}`, this.kek()) : undefined };
  }

  private toPublicCredential(r: CredentialRow): Omit<StoredCredential, 'secret'> {
    return {
      method: r.method,
      credentialId: r.credential_id,
      userId: r.user_id,
      publicData: r.public_data,
      counter: Number(r.counter),
      provisional: r.provisional,
      enrolledFlow: r.enrolled_flow,
      trustedAfterMs: r.trusted_after ? new Date(r.trusted_after).getTime() : null,
      basisRank: r.basis_rank,
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
  provisional: boolean;
  enrolled_flow: string | null;
  trusted_after: Date | string | null;
  basis_rank: number;
}

interface AuthenticationRow {
  method: string;
  amr: string[];
  user_id: string;
  authenticated_at: Date;
  flow_id: string | null;
  factor: string | null;
  factors: number;
  phishing_resistant: boolean;
  verifies: 'email' | 'phone' | null;
  credential_id: string | null;
  counted: boolean;
}

function toUser(r: UserRow): User {
  return { id: r.id, email: r.email, emailVerified: r.email_verified_at !== null, phone: r.phone, phoneVerified: r.phone_verified_at !== null };
}
