import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { Client } from 'pg';

/**
 * PostgreSQL and Redis for the tests, the benchmark and the local suite: where they are, whether they
 * answer (and what to start when they do not), a throw-away database per run, a Redis key prefix
 * deleted at the end.
 */

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export interface StoreUrls {
  /** A role that may CREATE DATABASE; test databases are created next to this one. */
  readonly databaseUrl: string;
  readonly redisUrl: string;
}

/** `DATABASE_URL` and `REDIS_URL` (the test run's variables), or the local defaults. */
export function storeUrls(env: NodeJS.ProcessEnv = process.env): StoreUrls {
  return { databaseUrl: env.DATABASE_URL || DEFAULT_DATABASE_URL, redisUrl: env.REDIS_URL || DEFAULT_REDIS_URL };
}

/** A connection URL with its password replaced by `***`, for messages and logs. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<not a URL>';
  }
}

/** What to run when a store is missing (README "Tests"). */
export const START_POSTGRES = 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start';
export const START_REDIS = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no';

/** PostgreSQL or Redis (or both) did not answer; `problems` has one paragraph per store, saying what to start. */
export class StoresUnavailableError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`PostgreSQL and Redis are needed:\n  - ${problems.join('\n  - ')}`);
  }
}

export interface CheckStoresOptions extends StoreUrls {
  /** The variables that point elsewhere, named in the message (default DATABASE_URL, REDIS_URL). */
  readonly databaseVar?: string;
  readonly redisVar?: string;
  /** Create the database named by `databaseUrl` (from the `postgres` one) when it does not exist. */
  readonly createMissingDatabase?: boolean;
}

export interface StoreVersions {
  readonly postgres: string;
  readonly redis: string;
}

/** Both stores answer, or a StoresUnavailableError naming each one that does not and how to start it. */
export async function checkStores(options: CheckStoresOptions): Promise<StoreVersions> {
  const problems: string[] = [];
  let postgres = 'unknown';
  let redis = 'unknown';
  try {
    postgres = await pingPostgres(options.databaseUrl, options.createMissingDatabase === true);
  } catch (e) {
    problems.push(
      `PostgreSQL is not reachable at ${redact(options.databaseUrl)} (${describeError(e)}).\n` +
        `    Start it (${START_POSTGRES})\n` +
        `    or set ${options.databaseVar ?? 'DATABASE_URL'} to a server where the role may CREATE DATABASE.`,
    );
  }
  try {
    redis = await pingRedis(options.redisUrl);
  } catch (e) {
    problems.push(`Redis is not reachable at ${redact(options.redisUrl)} (${describeError(e)}).\n    Start it (${START_REDIS})\n    or set ${options.redisVar ?? 'REDIS_URL'} to a running server.`);
  }
  if (problems.length > 0) throw new StoresUnavailableError(problems);
  return { postgres, redis };
}

/** The error code when there is one (ECONNREFUSED, 3D000, …), else the message. */
function describeError(e: unknown): string {
  const err = e as { code?: string; message?: string; errors?: { code?: string }[] };
  return err.code ?? err.errors?.[0]?.code ?? err.message ?? String(e);
}

async function pingPostgres(url: string, createMissing: boolean): Promise<string> {
  const pg = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await pg.connect();
    return String((await pg.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? 'unknown');
  } catch (e) {
    if ((e as { code?: string }).code !== '3D000' || !createMissing) throw e;
  } finally {
    await pg.end().catch(() => undefined);
  }
  // The database does not exist yet: create it from the maintenance database, then ask again.
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.slice(1));
  u.pathname = '/postgres';
  await withAdmin(u.toString(), (admin) => admin.query(`CREATE DATABASE ${quoteIdent(name)}`));
  return pingPostgres(url, false);
}

async function pingRedis(url: string): Promise<string> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 3000, retryStrategy: () => null, disconnectTimeout: 100 });
  let lastError: unknown;
  redis.on('error', (e) => (lastError = e));
  try {
    await redis.connect();
    await redis.ping();
    return /^redis_version:(\S+)/m.exec(await redis.info('server'))?.[1] ?? 'unknown';
  } catch (e) {
    throw lastError ?? e;
  } finally {
    redis.disconnect();
  }
}

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

async function withAdmin<T>(adminUrl: string, fn: (admin: Client) => Promise<T>): Promise<T> {
  const admin = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.end().catch(() => undefined);
  }
}

/** A database that exists for one run (one test file, one benchmark). */
export interface TempDatabase {
  readonly name: string;
  /** The admin URL with this database's name: what the apps get as DATABASE_URL. */
  readonly url: string;
  /** Runs SQL on one lazily opened connection (closed by `drop`). */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Drops it WITH (FORCE); a second call does nothing. */
  drop(): Promise<void>;
}

export interface CreateDatabaseOptions {
  /** Where to CREATE and DROP it (default: `storeUrls().databaseUrl`). */
  readonly adminUrl?: string;
  /** Start of the name (default `fpa_t`): `<prefix>_<label>_<pid>_<random>`. */
  readonly prefix?: string;
}

/** A fresh, uniquely named database next to the admin URL's one, so runs never collide. */
export async function createDatabase(label: string, options: CreateDatabaseOptions = {}): Promise<TempDatabase> {
  const adminUrl = options.adminUrl ?? storeUrls().databaseUrl;
  const clean = label.replace(/[^a-z0-9]/gi, '').toLowerCase().slice(0, 20);
  const name = `${options.prefix ?? 'fpa_t'}_${clean}_${process.pid}_${randomBytes(4).toString('hex')}`;
  if (!/^[a-z0-9_]{1,63}$/.test(name)) throw new Error(`bad database name ${name}`);
  await withAdmin(adminUrl, (admin) => admin.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let conn: Client | undefined;
  let dropped = false;
  return {
    name,
    url: url.toString(),
    async query<T>(sql: string, params?: unknown[]): Promise<T[]> {
      if (!conn) {
        const c = new Client({ connectionString: url.toString() });
        await c.connect();
        conn = c;
      }
      return (await conn.query(sql, params)).rows as T[];
    },
    async drop() {
      if (dropped) return;
      await conn?.end().catch(() => undefined);
      await withAdmin(adminUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      dropped = true;
    },
  };
}

/** Deletes every key under `prefix` (SCAN + UNLINK); returns how many. */
export async function deleteRedisPrefix(url: string, prefix: string): Promise<number> {
  if (!prefix) throw new Error('refusing to delete every key: the prefix is empty');
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3000, retryStrategy: () => null });
  redis.on('error', () => undefined);
  let deleted = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}
