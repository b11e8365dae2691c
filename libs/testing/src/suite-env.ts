import { randomBytes } from 'node:crypto';
import { createDatabase, deleteRedisPrefix, storeUrls, type TempDatabase } from './stores';

/** base64url of 32 random bytes: a KEY_ENCRYPTION_KEY or DPOP_NONCE_SECRET. */
export const randomSecret = (): string => randomBytes(32).toString('base64url');

/** The stores of one test run: its own database, its own Redis key prefix, fresh secrets. */
export interface SuiteEnv {
  readonly db: TempDatabase;
  readonly redisUrl: string;
  readonly redisPrefix: string;
  /** Variables for every app of the run (in-process or spawned); PORT and ISSUER are set per app. */
  readonly env: Record<string, string>;
  /** Drops the database and deletes the Redis keys under the prefix. */
  dispose(): Promise<void>;
}

/** A production-mode environment on a fresh database and Redis prefix (the URLs from `storeUrls()`). */
export async function createSuiteEnv(label: string, overrides: Record<string, string> = {}): Promise<SuiteEnv> {
  const { databaseUrl, redisUrl } = storeUrls();
  const db = await createDatabase(label, { adminUrl: databaseUrl });
  const redisPrefix = `fpa-test:${db.name}:`;
  return {
    db,
    redisUrl,
    redisPrefix,
    env: {
      APP_MODE: 'production',
      DATABASE_URL: db.url,
      DATABASE_POOL_SIZE: '5',
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: redisPrefix,
      KEY_ENCRYPTION_KEY: randomSecret(),
      DPOP_NONCE_SECRET: randomSecret(),
      MIGRATIONS_RUN: 'true',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      // Production mode wants transports for the challenge methods; suites that send messages
      // start a real SMTP server / HTTP receiver and override these.
      SMTP_URL: 'smtp://127.0.0.1:1',
      SMS_PROVIDER_URL: 'http://127.0.0.1:1/sms',
      ...overrides,
    },
    async dispose() {
      await db.drop();
      await deleteRedisPrefix(redisUrl, redisPrefix);
    },
  };
}

/** The first-party native client most e2e suites register devices with. */
export const DEVICE_CLIENT = {
  client_id: 'native-app',
  name: 'Native test app',
  type: 'public',
  first_party: true,
  grant_types: ['fp_register', 'client_credentials', 'refresh_token'],
  auth_methods: ['private_key_jwt', 'none'],
  scopes: ['openid', 'profile', 'api.read'],
  resources: ['https://api.example.com'],
  dpop_bound_access_tokens: true,
} as const;
