import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { DataSource, type DataSourceOptions, type EntitySchema } from 'typeorm';
import type { AppConfig } from '@fpa/config';
import { MIGRATIONS } from './migrations';
import { lockDataDir } from './data-dir-lock';
import { pgliteDriver } from './pglite-pool';
import { assertStorable, StorableParametersSubscriber } from './storable';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export type EntityRef = Function | EntitySchema;

const MIGRATION_LOCK = 7_238_911_042;

export function usesPglite(config: AppConfig): boolean {
  return config.db.url === undefined;
}

export function dataSourceOptions(config: AppConfig, entities: EntityRef[] = []): DataSourceOptions {
  const common = {
    type: 'postgres' as const,
    entities,
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    synchronize: false,
    migrationsRun: false,
    logging: false,
    // The last line before PostgreSQL: no statement carries a value it cannot hold (storable.ts).
    subscribers: [StorableParametersSubscriber],
  };
  if (usesPglite(config)) {
    if (config.mode !== 'embedded') throw new Error('DATABASE_URL is required in production mode');
    lockDataDir(config.dataDir, config.app);
    const dir = join(config.dataDir, 'pgdata');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return { ...common, driver: pgliteDriver(dir) } as DataSourceOptions;
  }
  return {
    ...common,
    url: config.db.url,
    poolSize: config.db.poolSize,
    // TLS always verifies the server: against Node's CAs, or the bundle in DATABASE_SSL_CA.
    ssl: config.db.ssl ? { rejectUnauthorized: true, ...(config.db.sslCa ? { ca: config.db.sslCa } : {}) } : false,
    connectTimeoutMS: 3000,
    applicationName: `first-party-auth/${config.app}`,
    extra: { idleTimeoutMillis: 30_000 },
  };
}

/**
 * Runs pending migrations under a PostgreSQL advisory lock, so replicas (or a Job and a replica)
 * starting together migrate once. PGlite is a single process and needs no lock.
 */
export async function runMigrations(ds: DataSource, pglite: boolean): Promise<string[]> {
  if (pglite) return (await ds.runMigrations({ transaction: 'each' })).map((m) => m.name);
  const runner = ds.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    return (await ds.runMigrations({ transaction: 'each' })).map((m) => m.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await runner.release();
  }
}

/** Either migrates (embedded default, or MIGRATIONS_RUN=true) or refuses to run on a stale schema. */
export async function ensureSchema(ds: DataSource, config: AppConfig): Promise<string[]> {
  if (config.db.runMigrations) return runMigrations(ds, usesPglite(config));
  if (await ds.showMigrations()) {
    throw new Error('the database schema is behind this release: run `npm run migration:run` (or the migration Job) first');
  }
  return [];
}

export async function openDataSource(config: AppConfig, entities: EntityRef[] = []): Promise<DataSource> {
  const ds = new DataSource(dataSourceOptions(config, entities));
  await ds.initialize();
  return ds;
}

export type SqlRunner = <T = Record<string, unknown>>(sql: string, params: readonly unknown[]) => Promise<T[]>;

/**
 * For the few statements on the token endpoint's hot path: straight to the driver's pool (pg's
 * Pool, or the serialising PGlite pool — both answer `{ rows }`), skipping TypeORM's per-query
 * QueryRunner, logger and broadcaster. Anything transactional still goes through TypeORM. Skipping
 * TypeORM skips its subscribers too, so the parameters are checked here (storable.ts).
 */
export function sqlRunner(ds: DataSource): SqlRunner {
  return async <T>(sql: string, params: readonly unknown[]) => {
    assertStorable(params);
    const pool = (ds.driver as unknown as { master: { query(sql: string, params: unknown[]): Promise<{ rows: T[] }> } }).master;
    return (await pool.query(sql, params as unknown[])).rows;
  };
}
