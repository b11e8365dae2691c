import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

/** The port: the local user of a downstream (issuer, subject), created on first sight. */
export interface IdentityLinks {
  link(issuer: string, subject: string, now: Date): Promise<{ userId: string; created: boolean }>;
}

export const IDENTITY_LINKS = Symbol('IDENTITY_LINKS');

/**
 * `federated_identities` (issuer, subject) → users.id. First sight creates a user without
 * identifiers and the link in one transaction; the primary key settles a race — the loser's
 * transaction rolls back (no orphan user) and it reads the winner's link. Never linked by e-mail:
 * a downstream's address claim is not ours to trust for an existing account.
 */
@Injectable()
export class PgIdentityLinks implements IdentityLinks {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  async link(issuer: string, subject: string, now: Date): Promise<{ userId: string; created: boolean }> {
    const found = await this.find(issuer, subject, now);
    if (found) return { userId: found, created: false };
    const userId = randomUUID();
    const created = await this.ds.transaction(async (m) => {
      await m.query(`INSERT INTO users (id, created_at) VALUES ($1, $2)`, [userId, now]);
      const rows = (await m.query(
        `INSERT INTO federated_identities (issuer, subject, user_id, created_at, last_login_at) VALUES ($1, $2, $3, $4, $4) ON CONFLICT (issuer, subject) DO NOTHING RETURNING user_id`,
        [issuer, subject, userId, now],
      )) as { user_id: string }[];
      if (rows.length === 0) throw new LostRace();
      return true;
    }).catch((e: unknown) => {
      if (e instanceof LostRace) return false;
      throw e;
    });
    if (created) return { userId, created: true };
    const winner = await this.find(issuer, subject, now);
    if (!winner) throw new Error('federated identity vanished during linking');
    return { userId: winner, created: false };
  }

  private async find(issuer: string, subject: string, now: Date): Promise<string | undefined> {
    const rows = (await this.ds.query(`UPDATE federated_identities SET last_login_at = $3 WHERE issuer = $1 AND subject = $2 RETURNING user_id`, [issuer, subject, now])) as [{ user_id: string }[], number] | { user_id: string }[];
    const list = Array.isArray(rows[0]) ? (rows[0] as { user_id: string }[]) : (rows as { user_id: string }[]);
    return list[0]?.user_id;
  }
}

class LostRace extends Error {}
