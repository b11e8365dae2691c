import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { randomToken, sha256B64u } from '@fpa/crypto';
import { sqlRunner, type SqlRunner } from '@fpa/persistence';
import { DeviceSessionCache } from './device-session-cache';
import type { DeviceSession } from './device-session.entity';
import { SESSION_COLUMNS, sessionFromRow, type SessionRow } from './device-session.repository';
import { newFamilyInsertSql, newFamilyParams, type RefreshTokenGrant } from './refresh-token.service';

export interface NewAuthorizationCode {
  readonly clientId: string;
  readonly authSession: string;
  readonly userId: string;
  /** FIPA-33: the DPoP key of the challenge requests; the token request must prove it. */
  readonly dpopJkt: string | null;
  /** RFC 7636 S256 challenge, when the challenge request carried one. */
  readonly codeChallenge: string | null;
  readonly scope: string;
  readonly resource: string | null;
  readonly acr: string | null;
  readonly amr: readonly string[];
  readonly authTime: Date;
  /** RFC 6749 §4.1.3: a code sent to a redirect URI is redeemed with exactly that URI; null for the native endpoint's codes. */
  readonly redirectUri: string | null;
  /** RFC 9396 §6/§7: the authorization details granted with the code. */
  readonly authorizationDetails: readonly Record<string, unknown>[] | null;
}

export interface AuthorizationCode extends NewAuthorizationCode {
  readonly expiresAt: Date;
  readonly consumedAt: Date | null;
  readonly accessTokenJti: string | null;
  readonly accessTokenExpiresAt: Date | null;
  readonly refreshFamilyId: string | null;
}

/** A code and its session, read in one statement (undefined session: its row is gone). */
export interface CodeWithSession {
  readonly code: AuthorizationCode;
  readonly session: DeviceSession | undefined;
}

/** What a redeemed code yields, recorded with it so a later reuse can revoke exactly that (GEN-3). */
export interface IssuedFromCode {
  readonly accessTokenJti: string;
  readonly accessTokenExpiresAt: Date;
}

/** The refresh-token family a redemption starts, in the statement that consumes the code. */
export interface FamilyFromCode {
  readonly grant: RefreshTokenGrant;
  readonly expiresAt: Date;
  readonly familyId: string;
}

/** A redemption that won: the refresh token of the family it started, if any. Undefined: lost (a reuse). */
export type Redeemed = { readonly refreshToken: string | undefined } | undefined;

/**
 * Authorization codes from the challenge endpoint (FIPA-29, GEN-3): 256-bit random, stored as
 * SHA-256, short-lived, single use. Redemption is one conditional UPDATE that also records the
 * tokens issued from the code, so a later reuse can revoke exactly those.
 */
@Injectable()
export class AuthorizationCodeService {
  private readonly sql: SqlRunner;

  constructor(
    @InjectDataSource() ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly sessions: DeviceSessionCache,
  ) {
    this.sql = sqlRunner(ds);
  }

  /**
   * Issues a code for an authorization the session's user just satisfied, in one statement that
   * also records what later tokens of the session carry (`sub`, `acr`, `amr`, `auth_time`,
   * verified identifiers) and, when the user interacted in this flow, extends the session to
   * `extendUntil` — never past its absolute lifetime (issue 7 finding 5). Undefined when the
   * session is expired, revoked or belongs to another user: nothing is written then.
   */
  async issueForSession(c: NewAuthorizationCode, verified: readonly string[], extendUntil: Date | null, now: Date): Promise<string | undefined> {
    const code = randomToken(32);
    const rows = await this.sql(
      `WITH s AS (
         UPDATE device_sessions
         SET user_id = $4, auth_time = $11, amr = $10, acr = $9, verified = $14,
             expires_at = CASE WHEN $15::timestamptz IS NULL THEN expires_at ELSE LEAST(absolute_expires_at, GREATEST(expires_at, $15::timestamptz)) END
         WHERE auth_session = $3 AND status = 'active' AND expires_at > $12 AND absolute_expires_at > $12 AND (user_id IS NULL OR user_id = $4)
         RETURNING auth_session
       )
       INSERT INTO authorization_codes (code_hash, client_id, auth_session, user_id, dpop_jkt, code_challenge, scope, resource, acr, amr, auth_time, created_at, expires_at, redirect_uri, authorization_details)
       SELECT $1, $2, s.auth_session, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $16, $17 FROM s
       RETURNING code_hash`,
      [
        sha256B64u(code),
        c.clientId,
        c.authSession,
        c.userId,
        c.dpopJkt,
        c.codeChallenge,
        c.scope,
        c.resource,
        c.acr,
        [...c.amr],
        c.authTime,
        now,
        new Date(now.getTime() + this.config.challenge.codeTtlSeconds * 1000),
        [...verified],
        extendUntil,
        c.redirectUri,
        c.authorizationDetails === null ? null : JSON.stringify(c.authorizationDetails),
      ],
    );
    if (rows.length !== 1) return undefined;
    // The session's user, acr/amr and expiry changed: token processes' cached copies must be re-read
    // (set after the commit above; DeviceSessionCache explains why that order is enough).
    await this.sessions.changed(c.authSession);
    return code;
  }

  async find(code: string): Promise<AuthorizationCode | undefined> {
    if (code.length > 256) return undefined;
    const rows = await this.sql<CodeRow>('SELECT * FROM authorization_codes WHERE code_hash = $1', [sha256B64u(code)]);
    return rows[0] ? toCode(rows[0]) : undefined;
  }

  /**
   * The code and its session in one statement (the code exchange's first read); the session is
   * undefined when its row is gone.
   */
  async findWithSession(code: string): Promise<CodeWithSession | undefined> {
    if (code.length > 256) return undefined;
    const rows = await this.sql<CodeRow & { session: SessionRow | null }>(FIND_WITH_SESSION, [sha256B64u(code)]);
    const r = rows[0];
    return r ? { code: toCode(r), session: r.session ? sessionFromRow(r.session) : undefined } : undefined;
  }

  /**
   * Consumes the code and records what it yields; with `refresh`, also starts that refresh-token
   * family in the same statement — inserted only if the code was consumed, so the loser of a race
   * writes nothing and a reuse that sees the code consumed always finds the family to revoke
   * (GEN-3). Exactly one of any number of concurrent calls gets a result; the others lost the race
   * (undefined: a reuse). The refresh token is returned once, never stored.
   */
  async redeem(code: string, now: Date, issued: IssuedFromCode, refresh?: FamilyFromCode): Promise<Redeemed> {
    const consume = [sha256B64u(code), now, issued.accessTokenJti, issued.accessTokenExpiresAt, refresh?.familyId ?? null];
    if (!refresh) return (await this.sql(CONSUME_CODE, consume)).length === 1 ? { refreshToken: undefined } : undefined;
    const family = newFamilyParams(refresh.grant, now, refresh.expiresAt, refresh.familyId);
    const rows = await this.sql(CONSUME_CODE_STARTING_FAMILY, [...consume, ...family.params]);
    return rows.length === 1 ? { refreshToken: family.token } : undefined;
  }
}

/** Consumes an unconsumed, unexpired code ($1 its hash) and records what it yields ($2–$5). */
const CONSUME_CODE = `UPDATE authorization_codes SET consumed_at = $2, access_token_jti = $3, access_token_expires_at = $4, refresh_family_id = $5::uuid
  WHERE code_hash = $1 AND consumed_at IS NULL AND expires_at > $2 RETURNING code_hash`;

/** CONSUME_CODE and, only if it consumed the code, the new refresh-token family ($6 on). */
const CONSUME_CODE_STARTING_FAMILY = `WITH c AS (${CONSUME_CODE}) ${newFamilyInsertSql(6)} FROM c RETURNING id`;

/** The code row and, as JSON, its session's SESSION_COLUMNS (null when the session row is gone). */
const FIND_WITH_SESSION = `SELECT c.*, (SELECT row_to_json(s) FROM (SELECT ${SESSION_COLUMNS} FROM device_sessions WHERE auth_session = c.auth_session) s) AS session
  FROM authorization_codes c WHERE c.code_hash = $1`;

interface CodeRow {
  client_id: string;
  auth_session: string;
  user_id: string;
  dpop_jkt: string | null;
  code_challenge: string | null;
  scope: string;
  resource: string | null;
  acr: string | null;
  amr: string[];
  auth_time: Date;
  expires_at: Date;
  consumed_at: Date | null;
  access_token_jti: string | null;
  access_token_expires_at: Date | null;
  refresh_family_id: string | null;
  redirect_uri: string | null;
  authorization_details: Record<string, unknown>[] | null;
}

function toCode(r: CodeRow): AuthorizationCode {
  return {
    clientId: r.client_id,
    authSession: r.auth_session,
    userId: r.user_id,
    dpopJkt: r.dpop_jkt,
    codeChallenge: r.code_challenge,
    scope: r.scope,
    resource: r.resource,
    acr: r.acr,
    amr: r.amr,
    authTime: new Date(r.auth_time),
    expiresAt: new Date(r.expires_at),
    consumedAt: r.consumed_at ? new Date(r.consumed_at) : null,
    accessTokenJti: r.access_token_jti,
    accessTokenExpiresAt: r.access_token_expires_at ? new Date(r.access_token_expires_at) : null,
    refreshFamilyId: r.refresh_family_id,
    redirectUri: r.redirect_uri ?? null,
    authorizationDetails: r.authorization_details ?? null,
  };
}
