import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { TEST_DATABASE_URL } from './env';

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

/** A fresh database per test file, so runs never collide; dropped at the end. */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const name = `fpa_t_${label.replace(/[^a-z0-9]/gi, '').toLowerCase().slice(0, 20)}_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  let conn: Client | undefined;
  const connection = async (): Promise<Client> => {
    if (!conn) {
      conn = new Client({ connectionString: url.toString() });
      await conn.connect();
    }
    return conn;
  };
  return {
    name,
    url: url.toString(),
    async query<T>(sql: string, params?: unknown[]): Promise<T[]> {
      return (await (await connection()).query(sql, params)).rows as T[];
    },
    async drop(): Promise<void> {
      await conn?.end().catch(() => undefined);
      const a = new Client({ connectionString: TEST_DATABASE_URL });
      await a.connect();
      try {
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}
