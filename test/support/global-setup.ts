import { Client } from 'pg';
import Redis from 'ioredis';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from './env';

/**
 * The e2e suites need a real PostgreSQL and Redis. When one is missing the run fails here with
 * what to start — it never skips.
 */
export default async function globalSetup(): Promise<void> {
  const problems: string[] = [];
  const pg = new Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await pg.connect();
    await pg.query('SELECT 1');
  } catch (e) {
    problems.push(
      `PostgreSQL is not reachable at ${redact(TEST_DATABASE_URL)} (${(e as Error).message}).\n` +
        `    Start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n` +
        `    or point DATABASE_URL at a server where the user may CREATE DATABASE.`,
    );
  } finally {
    await pg.end().catch(() => undefined);
  }
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 3000, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (e) {
    problems.push(
      `Redis is not reachable at ${redact(TEST_REDIS_URL)} (${(e as Error).message}).\n` +
        `    Start it: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no\n` +
        `    or point REDIS_URL at a running server.`,
    );
  } finally {
    redis.disconnect();
  }
  if (problems.length > 0) {
    throw new Error(`\n\nThe e2e tests need real PostgreSQL and Redis:\n  - ${problems.join('\n  - ')}\n`);
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}
