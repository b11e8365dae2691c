import Redis from 'ioredis';
import { Client } from 'pg';
import { sampleProcess } from './processes';

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
