import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

/** The port: the local user of a credential (issuer, stable claim value), created on first sight (VP-7). */
export interface CredentialIdentities {
  /** Links (or finds) the user and replaces the kept claims with `claims` (only what the policy names). */
  link(issuer: string, subject: string, claims: Readonly<Record<string, unknown>>, now: Date): Promise<{ userId: string; created: boolean }>;
}

export const CREDENTIAL_IDENTITIES = Symbol('CREDENTIAL_IDENTITIES');

/**
 * `credential_identities` (issuer, subject) → users.id, like federation's identity links: first
 * sight creates a user without identifiers and the link in one transaction; the primary key settles
 * a race (the loser rolls back — no orphan user — and reads the winner's link). Never linked by
 * e-mail: a credential's address claim is not ours to trust for an existing account.
 */
@Injectable()
export class PgCredentialIdentities implements CredentialIdentities {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  async link(issuer: string, subject: string, claims: Readonly<Record<string, unknown>>, now: Date): Promise<{ userId: string; created: boolean }> {
    const kept = JSON.stringify(claims);
    const found = await this.touch(issuer, subject, kept, now);
    if (found) return { userId: found, created: false };
    const userId = randomUUID();
    const created = await this.ds
      .transaction(async (m) => {
        await m.query(`INSERT INTO users (id, created_at) VALUES ($1, $2)`, [userId, now]);
        const rows = (await m.query(
          `INSERT INTO credential_identities (issuer, subject, user_id, claims, created_at, last_login_at) VALUES ($1, $2, $3, $4::jsonb, $5, $5) ON CONFLICT (issuer, subject) DO NOTHING RETURNING user_id`,
          [issuer, subject, userId, kept, now],
        )) as { user_id: string }[];
        if (rows.length === 0) throw new LostRace();
        return true;
      })
      .catch((e: unknown) => {
        if (e instanceof LostRace) return false;
        throw e;
      });
    if (created) return { userId, created: true };
    const winner = await this.touch(issuer, subject, kept, now);
    if (!winner) throw new Error('credential identity vanished during linking');
    return { userId: winner, created: false };
  }

  private async touch(issuer: string, subject: string, kept: string, now: Date): Promise<string | undefined> {
    const rows = (await this.ds.query(`UPDATE credential_identities SET last_login_at = $3, claims = $4::jsonb WHERE issuer = $1 AND subject = $2 RETURNING user_id`, [issuer, subject, now, kept])) as [{ user_id: string }[], number] | { user_id: string }[];
    const list = Array.isArray(rows[0]) ? (rows[0] as { user_id: string }[]) : (rows as { user_id: string }[]);
    return list[0]?.user_id;
  }
}

class LostRace extends Error {}
