import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import type { DataSource, Repository } from 'typeorm';
import { randomToken, sha256B64u } from '@fpa/crypto';
import { sqlRunner, type SqlRunner } from '@fpa/persistence';
import { RefreshTokenEntity } from './refresh-token.entity';

export interface RefreshTokenGrant {
  readonly clientId: string;
  readonly authSession: string;
  readonly subject: string;
  readonly jkt: string | null;
  readonly scope: string;
  readonly audience: string;
  readonly accessTokenJti: string;
  readonly accessTokenExpiresAt: Date;
  /** RFC 9396: the authorization details granted (those of the code), not the subset an access token carries. */
  readonly authorizationDetails?: readonly Record<string, unknown>[] | null;
  /** ACE-5: the PoP key of a PoP family (`{jwk, kid}` or `{jwe, kid}`), kept by every rotation. */
  readonly pop?: Readonly<Record<string, unknown>> | null;
}

export interface IssuedAccessTokenRef {
  readonly jti: string;
  readonly expiresAt: Date;
}

/** Refresh tokens: 256-bit random values, stored as SHA-256 only, rotated on every use. */
@Injectable()
export class RefreshTokenService {
  constructor(
    @InjectRepository(RefreshTokenEntity) private readonly repo: Repository<RefreshTokenEntity>,
    @InjectDataSource() ds: DataSource,
  ) {
    this.sql = sqlRunner(ds);
  }

  private readonly sql: SqlRunner;

  /** Starts a family. `expiresAt` is the family's absolute lifetime, inherited by every rotation. */
  async issue(grant: RefreshTokenGrant, now: Date, expiresAt: Date, id: string = randomUUID()): Promise<string> {
    // Hot path (every device grant): one plain INSERT straight to the pool.
    const { params, token } = newFamilyParams(grant, now, expiresAt, id);
    await this.sql(ISSUE_FAMILY, params);
    return token;
  }

  async find(token: string): Promise<RefreshTokenEntity | undefined> {
    if (token.length > 512) return undefined;
    return (await this.repo.findOneBy({ tokenHash: sha256B64u(token) })) ?? undefined;
  }

  /**
   * Marks `parentId` rotated and inserts its successor in one statement, so of any number of
   * concurrent redemptions exactly one gets a successor. Returns undefined to the losers.
   */
  async rotate(parentId: string, grant: RefreshTokenGrant, now: Date): Promise<string | undefined> {
    const token = randomToken(32);
    const rows = await this.sql<{ id: string }>(
      `WITH parent AS (
         UPDATE refresh_tokens SET status = 'rotated', used_at = $2
         WHERE id = $1 AND status = 'active' AND expires_at > $2
         RETURNING id, family_id, expires_at
       )
       INSERT INTO refresh_tokens (id, token_hash, family_id, parent_id, client_id, auth_session, subject, jkt, scope,
                                   audience, access_token_jti, access_token_expires_at, status, created_at, expires_at, authorization_details, pop)
       SELECT $3, $4, parent.family_id, parent.id, $5, $6, $7, $8, $9, $10, $11, $12, 'active', $2, parent.expires_at, $13::jsonb, $14::jsonb
       FROM parent
       RETURNING id`,
      [
        parentId,
        now,
        randomUUID(),
        sha256B64u(token),
        grant.clientId,
        grant.authSession,
        grant.subject,
        grant.jkt,
        grant.scope,
        grant.audience,
        grant.accessTokenJti,
        grant.accessTokenExpiresAt,
        detailsJson(grant),
        popJson(grant),
      ],
    );
    return rows.length === 1 ? token : undefined;
  }

  /** Revokes every token of the family; returns the access tokens issued in it (to deny-list). */
  revokeFamily(familyId: string, reason: string, now: Date): Promise<IssuedAccessTokenRef[]> {
    return this.revokeWhere('family_id', familyId, reason, now);
  }

  /** Revokes every family of a device session; returns the access tokens issued in them. */
  revokeSession(authSession: string, reason: string, now: Date): Promise<IssuedAccessTokenRef[]> {
    return this.revokeWhere('auth_session', authSession, reason, now);
  }

  private async revokeWhere(column: 'family_id' | 'auth_session', value: string, reason: string, now: Date): Promise<IssuedAccessTokenRef[]> {
    const rows = await this.sql<RevokedRow>(
      `UPDATE refresh_tokens SET status = 'revoked', revoked_at = $2, revoked_reason = $3
       WHERE ${column} = $1 AND status <> 'revoked'
       RETURNING access_token_jti, access_token_expires_at`,
      [value, now, reason],
    );
    return rows.map((r) => ({ jti: r.access_token_jti, expiresAt: new Date(r.access_token_expires_at) }));
  }
}

/**
 * The first token of a new family (`id` is also the family id) as `INSERT … SELECT <values>`, its
 * parameters numbered from `$first`: on its own it inserts the row; followed by `FROM <cte>` it
 * inserts it only when the CTE returns a row — in the same statement as the CTE's write (the code
 * exchange: AuthorizationCodeService.redeem). Built once per statement that uses it, at load;
 * `newFamilyParams` gives its values.
 */
export function newFamilyInsertSql(first: number): string {
  const p = (n: number): string => `$${first + n - 1}`;
  return `INSERT INTO refresh_tokens (id, token_hash, family_id, parent_id, client_id, auth_session, subject, jkt, scope, audience,
                                 access_token_jti, access_token_expires_at, status, created_at, expires_at, authorization_details, pop)
     SELECT ${p(1)}::uuid, ${p(2)}, ${p(1)}::uuid, NULL::uuid, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}, ${p(7)}, ${p(8)}, ${p(9)}, ${p(10)}::timestamptz, 'active', ${p(11)}::timestamptz, ${p(12)}::timestamptz, ${p(13)}::jsonb, ${p(14)}::jsonb`;
}

/** The values of `newFamilyInsertSql`, in order, with a new token (returned once, stored only as its hash). */
export function newFamilyParams(grant: RefreshTokenGrant, now: Date, expiresAt: Date, id: string): { params: unknown[]; token: string } {
  const token = randomToken(32);
  return {
    params: [id, sha256B64u(token), grant.clientId, grant.authSession, grant.subject, grant.jkt, grant.scope, grant.audience, grant.accessTokenJti, grant.accessTokenExpiresAt, now, expiresAt, detailsJson(grant), popJson(grant)],
    token,
  };
}

const ISSUE_FAMILY = newFamilyInsertSql(1);

/** jsonb parameter: node-postgres would send a JS array as a PostgreSQL array, not as JSON. */
function detailsJson(grant: RefreshTokenGrant): string | null {
  return grant.authorizationDetails ? JSON.stringify(grant.authorizationDetails) : null;
}

function popJson(grant: RefreshTokenGrant): string | null {
  return grant.pop ? JSON.stringify(grant.pop) : null;
}

interface RevokedRow {
  access_token_jti: string;
  access_token_expires_at: Date;
}
