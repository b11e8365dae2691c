import { randomUUID } from 'node:crypto';
import { type DynamicModule, Module } from '@nestjs/common';
import { Client } from 'pg';
import type { AppConfig } from '@fpa/config';
import { JanitorModule, JanitorService, type JanitorSummary } from '@fpa/janitor';
import { PlatformModule } from '@fpa/platform';
import { startApp, type RunningApp } from '@fpa/testing/app';

@Module({})
class JanitorOnPostgresModule {
  static forRoot(config: AppConfig): DynamicModule {
    return { module: JanitorOnPostgresModule, imports: [PlatformModule.forRoot(config, { store: false }), JanitorModule] };
  }
}

/**
 * The run's "now", before real time (so the runs' own records are never older than it); every row is
 * placed relative to it and to the cutoffs the settings below give.
 */
const NOW = new Date(Date.UTC(2025, 5, 1, 12, 0, 0));
const at = (seconds: number): Date => new Date(NOW.getTime() + seconds * 1000);
const DAY = 86_400;
const SETTINGS = { ACCESS_TOKEN_TTL_SECONDS: '600', CLOCK_SKEW_SECONDS: '5', AUTH_LOCKOUT_RESET_SECONDS: '3600', AUDIT_RETENTION_DAYS: '30', REFRESH_TOKEN_TTL_SECONDS: String(30 * DAY) };
/** Dead sessions go ACCESS_TOKEN_TTL + CLOCK_SKEW + 60 s after they died. */
const SESSION_CUTOFF = -(600 + 5 + 60);
/** An access token expired more than CLOCK_SKEW ago verifies nowhere. */
const TOKEN_CUTOFF = -5;
const ATTEMPT_CUTOFF = -3600;
const AUDIT_CUTOFF = -30 * DAY;
const CLIENT = 'janitor-app';

/**
 * Issue 8 item 5 on PostgreSQL: the janitor deletes exactly what has expired — rows on both sides of
 * every boundary, time given explicitly — in batches of any size with the same result, without waiting
 * for rows another transaction holds. (janitor-runs.e2e-spec.ts: reuse detection through the token
 * endpoint, the run record and its metrics, the CLI.)
 */
describe('janitor on PostgreSQL: what it deletes and what it keeps', () => {
  let suite: RunningApp;
  let janitor: JanitorService;
  let userId: string;
  const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> => suite.env.db.query<T>(text, params);

  beforeAll(async () => {
    suite = await startApp({ label: 'janitor', module: (c) => JanitorOnPostgresModule.forRoot(c), overrides: SETTINGS });
    janitor = suite.get(JanitorService);
    await sql(`INSERT INTO clients (client_id, name, client_type) VALUES ($1, 'janitor test', 'public')`, [CLIENT]);
    userId = randomUUID();
    await sql(`INSERT INTO users (id, email, email_verified_at) VALUES ($1, 'ann@example.com', $2)`, [userId, NOW]);
  });
  afterAll(async () => suite?.close());
  beforeEach(async () => {
    await sql('TRUNCATE device_sessions, refresh_tokens, authorization_codes, user_authentications, token_revocations, pop_keys, auth_attempts, audit_events, janitor_runs');
  });

  // --- rows, each named by what it is; `keep` says what the janitor must do with it -------------

  /** Every row the fixture wrote, by name, with its table and key. */
  let rows: Map<string, { table: string; key: string; pk: string }>;
  const remember = (name: string, table: string, pk: string, key: string): void => {
    rows.set(name, { table, pk, key });
  };

  const session = async (name: string, t: { expires: number; absolute?: number; revoked?: number }): Promise<string> => {
    const id = `${name}-`.padEnd(43, 'x');
    await sql(
      `INSERT INTO device_sessions (auth_session, client_id, key_jkt, public_jwk, key_alg, status, created_at, expires_at, absolute_expires_at, revoked_at, kind, user_id)
       VALUES ($1, $2, 'jkt', '{}', 'ES256', $3, $4, $5, $6, $7, 'device', $8)`,
      [id, CLIENT, t.revoked === undefined ? 'active' : 'revoked', at(-90 * DAY), at(t.expires), at(t.absolute ?? Math.max(t.expires, 60 * DAY)), t.revoked === undefined ? null : at(t.revoked), userId],
    );
    remember(name, 'device_sessions', 'auth_session', id);
    return id;
  };

  /** A family of `statuses.length` rows sharing `expires`; the last row's access token expires at `lastAccessToken`. */
  const family = async (name: string, authSession: string, expires: number, lastAccessToken: number, statuses: string[] = ['rotated', 'rotated', 'active']): Promise<string> => {
    const familyId = randomUUID();
    for (const [i, status] of statuses.entries()) {
      const id = i === 0 ? familyId : randomUUID();
      const last = i === statuses.length - 1;
      await sql(
        `INSERT INTO refresh_tokens (id, token_hash, family_id, parent_id, client_id, auth_session, subject, audience, access_token_jti, access_token_expires_at, status, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'sub', 'aud', $7, $8, $9, $10, $11)`,
        [id, `${name}-${i}`, familyId, i === 0 ? null : familyId, CLIENT, authSession, `jti-${name}-${i}`, at(last ? lastAccessToken : lastAccessToken - 3600 * (statuses.length - i)), status, at(expires - 30 * DAY), at(expires)],
      );
      remember(`${name}#${i}`, 'refresh_tokens', 'id', id);
    }
    return familyId;
  };

  const code = async (name: string, authSession: string, t: { expires: number; consumed?: number; accessToken?: number; familyId?: string }): Promise<void> => {
    await sql(
      `INSERT INTO authorization_codes (code_hash, client_id, auth_session, user_id, auth_time, created_at, expires_at, consumed_at, access_token_jti, access_token_expires_at, refresh_family_id)
       VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, $10)`,
      [name, CLIENT, authSession, userId, at(t.expires - 60), at(t.expires), t.consumed === undefined ? null : at(t.consumed), t.consumed === undefined ? null : `jti-${name}`, t.accessToken === undefined ? null : at(t.accessToken), t.familyId ?? null],
    );
    remember(name, 'authorization_codes', 'code_hash', name);
  };

  const event = async (name: string, authSession: string): Promise<void> => {
    const [r] = await sql<{ id: string }>(`INSERT INTO user_authentications (user_id, auth_session, method, amr, authenticated_at) VALUES ($1, $2, 'email_otp', '{otp}', $3) RETURNING id`, [userId, authSession, at(-DAY)]);
    remember(name, 'user_authentications', 'id', String(r.id));
  };

  /** Everything the janitor must judge, on both sides of every boundary. Returns the names it must keep. */
  async function seed(): Promise<Set<string>> {
    rows = new Map();
    const keep = new Set<string>();
    const kept = (name: string): string => (keep.add(name), name);

    // Sessions: dead (idle expiry, absolute end, revocation) for longer than the session grace → gone with
    // everything hanging off them, even a family that has not expired; dead for less, or alive → kept.
    const dead = [
      await session('idle-expired', { expires: SESSION_CUTOFF - 1 }),
      await session('absolute-ended', { expires: 10 * DAY, absolute: SESSION_CUTOFF - 1 }),
      await session('revoked-long-ago', { expires: 10 * DAY, revoked: SESSION_CUTOFF - 1 }),
    ];
    const lingering = [
      await session(kept('idle-expired-at-cutoff'), { expires: SESSION_CUTOFF }),
      await session(kept('expired-a-second-ago'), { expires: -1 }),
      await session(kept('revoked-recently'), { expires: 10 * DAY, revoked: SESSION_CUTOFF + 1 }),
    ];
    for (const s of [...dead, ...lingering]) {
      const keepIt = lingering.includes(s);
      const familyId = await family(`fam-of-${s}`, s, 20 * DAY, 300);
      if (keepIt) for (const i of [0, 1, 2]) kept(`fam-of-${s}#${i}`);
      await code(keepIt ? kept(`code-of-${s}`) : `code-of-${s}`, s, { expires: -DAY, consumed: -DAY - 30, accessToken: -DAY + 570, familyId });
      await event(keepIt ? kept(`event-of-${s}`) : `event-of-${s}`, s);
    }

    // A live session: what hangs off it goes by its own rules.
    const live = await session(kept('live'), { expires: 10 * DAY });
    await event(kept('event-of-live'), live);
    // Refresh families: dead once past their absolute expiry and every access token of theirs expired.
    const deadFamily = await family('family-expired', live, -2 * DAY, -2 * DAY);
    await family('family-revoked-expired', live, -DAY, -DAY - 60, ['revoked', 'revoked']);
    // Redeemable for one more second: its rotated tokens stay, so their reuse is still detected.
    const liveFamily = await family('family-live', live, 1, -7 * DAY);
    for (const i of [0, 1, 2]) kept(`family-live#${i}`);
    // Expired a moment ago, but its newest access token still verifies (exp + skew): a replay must still revoke it.
    const lingeringFamily = await family('family-token-live', live, -1, TOKEN_CUTOFF);
    for (const i of [0, 1, 2]) kept(`family-token-live#${i}`);

    // Authorization codes.
    await code('unredeemed-expired', live, { expires: -1 });
    await code(kept('unredeemed-expiring-at-now'), live, { expires: 0 });
    await code('redeemed-family-dead', live, { expires: -32 * DAY, consumed: -32 * DAY - 20, accessToken: -32 * DAY + 580, familyId: deadFamily });
    await code(kept('redeemed-family-token-live'), live, { expires: -30 * DAY, consumed: -30 * DAY - 20, accessToken: -30 * DAY + 580, familyId: lingeringFamily });
    await code(kept('redeemed-family-live'), live, { expires: -30 * DAY + 2, consumed: -30 * DAY, accessToken: -30 * DAY + 600, familyId: liveFamily });
    await code('redeemed-token-expired', live, { expires: -2 * DAY, consumed: -2 * DAY - 10, accessToken: TOKEN_CUTOFF - 1 });
    await code(kept('redeemed-token-live'), live, { expires: -50, consumed: -60, accessToken: TOKEN_CUTOFF });

    // Revoked access-token ids: until the token could no longer verify.
    for (const [name, expires] of [['revocation-expired', TOKEN_CUTOFF - 1], [kept('revocation-at-cutoff'), TOKEN_CUTOFF], [kept('revocation-live'), 600]] as const) {
      await sql(`INSERT INTO token_revocations (jti, expires_at, revoked_at, reason) VALUES ($1, $2, $3, 'test')`, [name, at(expires), at(expires - 600)]);
      remember(name, 'token_revocations', 'jti', name);
    }

    // Issue 12: PoP keys a client proved, until no request may name them (PopKeyStore.find: expires_at > now).
    for (const [name, expires] of [['pop-key-expired', -1], [kept('pop-key-expiring-at-now'), 0], [kept('pop-key-live'), DAY]] as const) {
      await sql(`INSERT INTO pop_keys (client_id, kid, jwk, created_at, expires_at) VALUES ('app', $1, '{}'::jsonb, $2, $3)`, [name, at(expires - DAY), at(expires)]);
      remember(name, 'pop_keys', 'kid', name);
    }

    // Failure counts: forgotten by the limiter after AUTH_LOCKOUT_RESET_SECONDS unless still locked.
    const attempts: [string, number, number | null][] = [
      ['attempts-forgotten', ATTEMPT_CUTOFF - 1, null],
      ['attempts-lock-over', ATTEMPT_CUTOFF - 1, 0],
      [kept('attempts-in-window'), ATTEMPT_CUTOFF, null],
      [kept('attempts-locked'), ATTEMPT_CUTOFF - 1, 1],
    ];
    for (const [name, lastFailure, lockedUntil] of attempts) {
      await sql(`INSERT INTO auth_attempts (key_hash, failures, last_failure_at, locked_until) VALUES ($1, 12, $2, $3)`, [name, at(lastFailure), lockedUntil === null ? null : at(lockedUntil)]);
      remember(name, 'auth_attempts', 'key_hash', name);
    }

    // Audit events and janitor records: AUDIT_RETENTION_DAYS.
    for (const [name, when] of [['audit-old', AUDIT_CUTOFF - 1], [kept('audit-at-cutoff'), AUDIT_CUTOFF], [kept('audit-recent'), -1]] as const) {
      const [r] = await sql<{ id: string }>(`INSERT INTO audit_events (occurred_at, event_type) VALUES ($1, $2) RETURNING id`, [at(when), name]);
      remember(name, 'audit_events', 'id', String(r.id));
      const [j] = await sql<{ id: string }>(`INSERT INTO janitor_runs (started_at, finished_at, outcome) VALUES ($1, $1, 'success') RETURNING id`, [at(when)]);
      remember(`run-${name}`, 'janitor_runs', 'id', String(j.id));
      if (keep.has(name)) kept(`run-${name}`);
    }
    return keep;
  }

  /** The names of the fixture's rows still in the database. */
  async function remaining(): Promise<Set<string>> {
    const left = new Set<string>();
    for (const [name, r] of rows) {
      const found = await sql(`SELECT 1 FROM ${r.table} WHERE ${r.pk}::text = $1`, [r.key]);
      if (found.length > 0) left.add(name);
    }
    return left;
  }

  /** What the fixture expects deleted, per table (the summary's counts). */
  const expectedDeleted = (keep: Set<string>): Record<string, number> => {
    const counts: Record<string, number> = { device_sessions: 0, refresh_tokens: 0, authorization_codes: 0, user_authentications: 0, token_revocations: 0, pop_keys: 0, auth_attempts: 0, audit_events: 0, janitor_runs: 0 };
    for (const [name, r] of rows) if (!keep.has(name)) counts[r.table] += 1;
    return counts;
  };

  it('deletes exactly what has expired, on both sides of every boundary, and nothing live', async () => {
    const keep = await seed();
    const summary = await janitor.run({ asOf: NOW });
    expect(summary).toMatchObject({ outcome: 'success', sessionsSkipped: 0 });
    expect(await remaining()).toEqual(keep);
    expect(summary.deleted).toEqual(expectedDeleted(keep));
    // Users are never the janitor's business.
    expect(await sql('SELECT id FROM users')).toEqual([{ id: userId }]);
    // A second run finds nothing more.
    const again = await janitor.run({ asOf: NOW });
    expect(Object.values(again.deleted).every((n) => n === 0)).toBe(true);
  });

  it('in batches smaller than the rows: several batches per table, the same result', async () => {
    const keep = await seed();
    const whole = expectedDeleted(keep);
    const summary = await janitor.run({ asOf: NOW, batchSize: 2 });
    expect(await remaining()).toEqual(keep);
    expect(summary.deleted).toEqual(whole);
    // One pass per sweep at this size would be 10 statements plus one per session batch; every table with
    // more than two rows to delete needed more.
    expect(summary.batches).toBeGreaterThan(20);
    const once = await (async () => {
      await sql('TRUNCATE device_sessions, refresh_tokens, authorization_codes, user_authentications, token_revocations, pop_keys, auth_attempts, audit_events, janitor_runs');
      await seed();
      return janitor.run({ asOf: NOW, batchSize: 1000 });
    })();
    expect(once.deleted).toEqual(whole);
    expect(summary.batches).toBeGreaterThan(once.batches);
  });
});

/** Settles within `ms` or fails saying what it was waiting for. */
async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms: it waited for a lock`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('janitor on PostgreSQL: a concurrent writer is never waited on', () => {
  let suite: RunningApp;
  let janitor: JanitorService;
  let writer: Client;
  const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> => suite.env.db.query<T>(text, params);
  const count = async (table: string, where = 'true', params: unknown[] = []): Promise<number> => Number((await sql<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE ${where}`, params))[0].n);

  beforeAll(async () => {
    suite = await startApp({ label: 'janitorlocks', module: (c) => JanitorOnPostgresModule.forRoot(c), overrides: SETTINGS });
    janitor = suite.get(JanitorService);
    await sql(`INSERT INTO clients (client_id, name, client_type) VALUES ($1, 'janitor test', 'public')`, [CLIENT]);
    writer = new Client({ connectionString: suite.env.db.url });
    await writer.connect();
  });
  afterAll(async () => {
    await writer?.end().catch(() => undefined);
    await suite?.close();
  });

  const run = (): Promise<JanitorSummary> => within(4000, 'the janitor run', janitor.run({ asOf: NOW, batchSize: 2 }));

  it('a dead row locked by another transaction is skipped, not waited for; the next run takes it', async () => {
    for (let i = 0; i < 5; i++) await sql(`INSERT INTO token_revocations (jti, expires_at, reason) VALUES ($1, $2, 'test')`, [`locked-test-${i}`, at(-DAY)]);
    await writer.query('BEGIN');
    await writer.query(`SELECT 1 FROM token_revocations WHERE jti = 'locked-test-2' FOR UPDATE`);
    try {
      const first = await run();
      expect(first).toMatchObject({ outcome: 'success' });
      expect(first.deleted.token_revocations).toBe(4);
      expect(await sql(`SELECT jti FROM token_revocations WHERE jti LIKE 'locked-test-%'`)).toEqual([{ jti: 'locked-test-2' }]);
    } finally {
      await writer.query('COMMIT');
    }
    expect((await run()).deleted.token_revocations).toBe(1);
    expect(await count('token_revocations')).toBe(0);
  });

  it('a dead session whose refresh token another transaction is updating keeps that token and itself until the next run', async () => {
    const authSession = 'locked-session-'.padEnd(43, 'x');
    await sql(
      `INSERT INTO device_sessions (auth_session, client_id, key_jkt, public_jwk, key_alg, created_at, expires_at, absolute_expires_at)
       VALUES ($1, $2, 'jkt', '{}', 'ES256', $3, $4, $4)`,
      [authSession, CLIENT, at(-60 * DAY), at(-DAY)],
    );
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    for (const [i, id] of ids.entries()) {
      await sql(
        `INSERT INTO refresh_tokens (id, token_hash, family_id, client_id, auth_session, subject, audience, access_token_jti, access_token_expires_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, 'sub', 'aud', $6, $7, $8)`,
        [id, `locked-${i}`, ids[0], CLIENT, authSession, `jti-locked-${i}`, at(-DAY), at(DAY)],
      );
    }
    await writer.query('BEGIN');
    await writer.query(`UPDATE refresh_tokens SET used_at = now() WHERE id = $1`, [ids[1]]);
    try {
      const first = await run();
      expect(first).toMatchObject({ outcome: 'success', sessionsSkipped: 1 });
      expect(first.deleted).toMatchObject({ refresh_tokens: 2, device_sessions: 0 });
      expect(await count('device_sessions', 'auth_session = $1', [authSession])).toBe(1);
      expect(await sql('SELECT id FROM refresh_tokens WHERE auth_session = $1', [authSession])).toEqual([{ id: ids[1] }]);
    } finally {
      await writer.query('ROLLBACK');
    }
    const second = await run();
    expect(second.deleted).toMatchObject({ refresh_tokens: 1, device_sessions: 1 });
    expect(await count('device_sessions')).toBe(0);
    expect(await count('refresh_tokens')).toBe(0);
  });
});
