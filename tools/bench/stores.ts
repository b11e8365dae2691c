import Redis from 'ioredis';
import { Client } from 'pg';
import { sampleProcess } from './processes';

export interface BenchDatabase {
  readonly name: string;
  /** The URL the apps use (the admin URL with the new database's name). */
  readonly url: string;
  /** `SHOW server_version` of the PostgreSQL server. */
  readonly serverVersion: string;
  drop(): Promise<void>;
}

/** A fresh database next to the admin URL's one, dropped (WITH FORCE) at the end. */
export async function createDatabase(adminUrl: string, name: string): Promise<BenchDatabase> {
  if (!/^[a-z0-9_]{1,63}$/.test(name)) throw new Error(`bad database name ${name}`);
  const admin = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  try {
    await admin.connect();
  } catch (e) {
    throw new Error(`PostgreSQL at ${redact(adminUrl)} is not reachable (${(e as Error).message}); start it or set BENCH_DATABASE_URL`);
  }
  let serverVersion = 'unknown';
  try {
    serverVersion = String((await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? serverVersion);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    name,
    url: url.toString(),
    serverVersion,
    async drop() {
      if (dropped) return;
      const a = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
      await a.connect();
      try {
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        dropped = true;
      } finally {
        await a.end();
      }
    },
  };
}

/** Fails early with a readable message when Redis is not there; returns its version. */
export async function checkRedis(url: string): Promise<string> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3_000, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return /^redis_version:(\S+)/m.exec(await redis.info('server'))?.[1] ?? 'unknown';
  } catch (e) {
    throw new Error(`Redis at ${redact(url)} is not reachable (${(e as Error).message}); start it or set REDIS_URL`);
  } finally {
    redis.disconnect();
  }
}

/** Deletes the run's keys (replay claims, rate-limit counters); they would expire within minutes anyway. */
export async function deleteRedisPrefix(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3_000, retryStrategy: () => null });
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

/**
 * CPU time consumed so far (ms) by the PostgreSQL backends connected to `dbName` — the app
 * processes' pools — and by the Redis server process (all of it: anything else using that Redis
 * counts too). Linux only, and only when the stores run on this machine; undefined otherwise.
 */
export interface StoreCpu {
  readonly postgresBackends: ReadonlyMap<number, number> | undefined;
  readonly redisMs: number | undefined;
}

export async function sampleStoreCpu(adminUrl: string, dbName: string, redisUrl: string): Promise<StoreCpu> {
  let postgresBackends: Map<number, number> | undefined;
  const admin = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  try {
    await admin.connect();
    const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [dbName]);
    postgresBackends = new Map();
    for (const { pid } of rows) {
      const s = sampleProcess(pid);
      if (s) postgresBackends.set(pid, s.cpuMs);
    }
    if (rows.length > 0 && postgresBackends.size === 0) postgresBackends = undefined; // not on this machine
  } catch {
    postgresBackends = undefined;
  } finally {
    await admin.end().catch(() => undefined);
  }
  let redisMs: number | undefined;
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3_000, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const pid = Number(/^process_id:(\d+)/m.exec(await redis.info('server'))?.[1]);
    redisMs = Number.isFinite(pid) ? sampleProcess(pid)?.cpuMs : undefined;
  } catch {
    redisMs = undefined;
  } finally {
    redis.disconnect();
  }
  return { postgresBackends, redisMs };
}

/** CPU ms between two samples; a backend that appeared in between counts from zero, one that left is lost. */
export function storeCpuBetween(before: StoreCpu, after: StoreCpu): { postgresMs: number | undefined; redisMs: number | undefined } {
  let postgresMs: number | undefined;
  if (before.postgresBackends && after.postgresBackends) {
    postgresMs = 0;
    for (const [pid, ms] of after.postgresBackends) postgresMs += ms - (before.postgresBackends.get(pid) ?? 0);
  }
  return { postgresMs, redisMs: before.redisMs !== undefined && after.redisMs !== undefined ? after.redisMs - before.redisMs : undefined };
}

export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}
