/**
 * What the janitor deletes, table by table, as data: each sweep is one bounded DELETE that a loop
 * repeats until a batch comes back short. Every sweep locks only the rows it is about to delete, and
 * skips (`FOR UPDATE SKIP LOCKED`) any row another transaction holds: that row waits for the next run,
 * nobody waits for the janitor. The "dead" predicates mirror the checks the services make when the
 * row is read, so a row is deleted only once no request could tell it from a missing one.
 */

export const JANITOR_TABLES = [
  'device_sessions',
  'refresh_tokens',
  'authorization_codes',
  'user_authentications',
  'token_revocations',
  'pop_keys',
  'auth_attempts',
  'audit_events',
  'janitor_runs',
] as const;
export type JanitorTable = (typeof JANITOR_TABLES)[number];

/** The instants one run compares against, all derived from its `asOf` and the configuration. */
export interface Cutoffs {
  /** The run's "now": refresh tokens and authorization codes expire against it. */
  readonly now: Date;
  /**
   * `now - CLOCK_SKEW_SECONDS`: an access token whose `exp` is before this verifies nowhere any more
   * (introspection and the resource servers tolerate that much skew), so nothing needs to revoke it.
   */
  readonly tokenCutoff: Date;
  /**
   * `now - (ACCESS_TOKEN_TTL_SECONDS + CLOCK_SKEW_SECONDS + 60)`: a session dead (expired, past its
   * absolute end, or revoked) before this has no access token left that could verify — tokens are
   * only issued while it is usable — and its revocation flag in Redis has expired too.
   */
  readonly sessionCutoff: Date;
  /** `now - AUTH_LOCKOUT_RESET_SECONDS`: failures older than this are forgotten by the limiter itself. */
  readonly attemptCutoff: Date;
  /** `now - AUDIT_RETENTION_DAYS`. */
  readonly auditCutoff: Date;
  /** The run's own record in janitor_runs, which no sweep touches (whatever `now` it was given). */
  readonly runId: string;
}

export interface Sweep {
  readonly table: JanitorTable;
  /** One batch: deletes at most `limit` rows and selects their number as `n`. */
  readonly sql: string;
  readonly params: (c: Cutoffs, limit: number) => unknown[];
}

/** `DELETE … WHERE pk IN (SELECT pk … LIMIT n FOR UPDATE SKIP LOCKED)`, counted; the limit is the last parameter. */
const batch = (table: JanitorTable, pk: string, alias: string, where: string, limit: number): string =>
  `WITH gone AS (
     DELETE FROM ${table} WHERE ${pk} IN (
       SELECT ${alias}.${pk} FROM ${table} ${alias} WHERE ${where} LIMIT $${limit} FOR UPDATE OF ${alias} SKIP LOCKED)
     RETURNING 1)
   SELECT count(*)::int AS n FROM gone`;

/**
 * A sweep whose predicate reads the named cutoffs as $1, $2, … in that order. The predicate must be
 * what the table's index finds (so a batch reads only rows it deletes or skips as locked).
 */
const sweep = (table: JanitorTable, pk: string, alias: string, where: string, cutoffs: readonly (keyof Cutoffs)[]): Sweep => ({
  table,
  sql: batch(table, pk, alias, where, cutoffs.length + 1),
  params: (c, limit) => [...cutoffs.map((k) => c[k]), limit],
});

/**
 * A refresh-token family someone could still use or revoke something with ($1 = now, $2 = tokenCutoff):
 * a row that can still be redeemed, or an access token issued in it that still verifies. Reuse
 * detection (a rotated token presented again, RFC 9700 §4.14) and code reuse (GEN-3) act on the family
 * while this holds.
 */
const familyLive = (familyId: string): string =>
  `EXISTS (SELECT 1 FROM refresh_tokens f WHERE f.family_id = ${familyId} AND (f.expires_at >= $1 OR f.access_token_expires_at >= $2))`;

/**
 * Everything except device sessions, whose cascade (session → its tokens, codes and authentication
 * events) is `SessionSweep`. Families before codes, so a code whose family went in this run goes in
 * this run too.
 *
 * Refresh tokens and codes with a refresh family stay past their own expiry, so a plain "expired"
 * index scan would wade through every kept row on each batch. Their batches look at the N oldest
 * candidates instead (families die in the order they expire, a redeemed code's family in the order
 * the code was redeemed) and delete the dead among them; a batch that finds fewer than N dead ends
 * the sweep. A dead row behind one that is not dead yet in that order (a family expired a moment
 * later whose last access token expires sooner) waits for the next run.
 */
export const SWEEPS: readonly Sweep[] = [
  // Refresh tokens: the whole family, once it is dead — past the family's absolute expiry (rotation
  // copies it, so the rows share it) and every access token issued in it expired. Until then a
  // rotated token stays findable, so presenting it again is still detected as reuse.
  {
    table: 'refresh_tokens',
    sql: `WITH oldest AS MATERIALIZED (
            SELECT DISTINCT x.family_id FROM (
              SELECT r.family_id FROM refresh_tokens r WHERE r.expires_at < $1 ORDER BY r.expires_at LIMIT $3) x),
          dead AS MATERIALIZED (
            SELECT o.family_id FROM oldest o WHERE NOT ${familyLive('o.family_id')}),
          gone AS (
            DELETE FROM refresh_tokens WHERE id IN (
              SELECT r.id FROM refresh_tokens r WHERE r.family_id IN (SELECT d.family_id FROM dead d) LIMIT $3 FOR UPDATE OF r SKIP LOCKED)
            RETURNING 1)
          SELECT count(*)::int AS n FROM gone`,
    params: (c, limit) => [c.now, c.tokenCutoff, limit],
  },
  // Authorization codes never redeemed: once expired, nothing can redeem them.
  sweep('authorization_codes', 'code_hash', 'c', 'c.consumed_at IS NULL AND c.expires_at < $1', ['now']),
  // Redeemed codes are kept while a replay could still revoke something (GEN-3: a reused code revokes
  // the access token and the refresh family it issued). Without a refresh family: until that access
  // token expired.
  sweep(
    'authorization_codes',
    'code_hash',
    'c',
    'c.consumed_at IS NOT NULL AND c.refresh_family_id IS NULL AND c.access_token_expires_at < $1 AND c.expires_at < $2',
    ['tokenCutoff', 'now'],
  ),
  // With a refresh family: until that family is dead too (families die in the order their codes were
  // redeemed: each starts with its code).
  {
    table: 'authorization_codes',
    sql: `WITH oldest AS MATERIALIZED (
            SELECT c.code_hash, c.expires_at, c.access_token_expires_at, c.refresh_family_id
            FROM authorization_codes c WHERE c.refresh_family_id IS NOT NULL ORDER BY c.consumed_at LIMIT $3),
          dead AS MATERIALIZED (
            SELECT o.code_hash FROM oldest o
            WHERE o.expires_at < $1 AND o.access_token_expires_at < $2 AND NOT ${familyLive('o.refresh_family_id')}),
          gone AS (
            DELETE FROM authorization_codes WHERE code_hash IN (
              SELECT c.code_hash FROM authorization_codes c WHERE c.code_hash IN (SELECT d.code_hash FROM dead d) FOR UPDATE OF c SKIP LOCKED)
            RETURNING 1)
          SELECT count(*)::int AS n FROM gone`,
    params: (c, limit) => [c.now, c.tokenCutoff, limit],
  },
  // Revoked access-token ids: once the token they deny could no longer verify anyway.
  sweep('token_revocations', 'jti', 't', 't.expires_at < $1', ['tokenCutoff']),
  // Issue 12: a client's proved PoP keys, once no request may name them any more (PopKeyStore.find
  // reads `expires_at > now`). The key is (client_id, kid): the batch picks rows by ctid.
  sweep('pop_keys', 'ctid', 'p', 'p.expires_at < $1', ['now']),
  // Failure counts per secret: neither locked nor within the reset window. The limiter would restart
  // such a count at 1 on the next failure, exactly as for a missing row (AttemptLimiter.charge).
  sweep('auth_attempts', 'key_hash', 'a', 'a.last_failure_at < $1 AND (a.locked_until IS NULL OR a.locked_until <= $2)', ['attemptCutoff', 'now']),
  // The audit trail and the janitor's own records: older than AUDIT_RETENTION_DAYS.
  sweep('audit_events', 'id', 'e', 'e.occurred_at < $1', ['auditCutoff']),
  sweep('janitor_runs', 'id', 'j', 'j.started_at < $1 AND j.id <> $2', ['auditCutoff', 'runId']),
];

/** When a session is dead: the first of its idle expiry, absolute end and revocation (the index's expression). */
export const SESSION_DEAD_AT = 'LEAST(s.expires_at, s.absolute_expires_at, s.revoked_at)';

/** What hangs off a session and dies with it: each row only ever reads or acts through its session. */
export const SESSION_CHILDREN: readonly { readonly table: JanitorTable; readonly pk: string }[] = [
  { table: 'refresh_tokens', pk: 'id' },
  { table: 'authorization_codes', pk: 'code_hash' },
  { table: 'user_authentications', pk: 'id' },
];

/**
 * Device and challenge sessions dead since before the session cutoff, cascading. A batch picks sessions
 * (by the expression index), deletes their children in bounded batches, then deletes the sessions
 * that have none left — a child held by another transaction keeps its session for the next run, so
 * no child is ever orphaned by the janitor.
 */
export const SessionSweep = {
  pick: `SELECT s.auth_session FROM device_sessions s
         WHERE ${SESSION_DEAD_AT} < $1 AND s.auth_session <> ALL($2::text[])
         ORDER BY ${SESSION_DEAD_AT} LIMIT $3`,
  children: (table: JanitorTable, pk: string): string =>
    `WITH gone AS (
       DELETE FROM ${table} WHERE ${pk} IN (
         SELECT x.${pk} FROM ${table} x WHERE x.auth_session = ANY($1::text[]) LIMIT $2 FOR UPDATE OF x SKIP LOCKED)
       RETURNING 1)
     SELECT count(*)::int AS n FROM gone`,
  sessions: `WITH gone AS (
               DELETE FROM device_sessions WHERE auth_session IN (
                 SELECT s.auth_session FROM device_sessions s
                 WHERE s.auth_session = ANY($1::text[]) AND ${SESSION_DEAD_AT} < $2
                   ${SESSION_CHILDREN.map((c) => `AND NOT EXISTS (SELECT 1 FROM ${c.table} x WHERE x.auth_session = s.auth_session)`).join('\n                   ')}
                 FOR UPDATE OF s SKIP LOCKED)
               RETURNING auth_session)
             SELECT auth_session FROM gone`,
} as const;
