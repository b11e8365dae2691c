import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { ClientAdminService, type CreatedClient } from '@fpa/clients';
import { loadConfig, withEmbeddedSecrets, type AppConfig } from '@fpa/config';
import { createApp } from '@fpa/platform';
import { StandaloneAppModule } from '../../apps/standalone/src/standalone-app.module';
import { TEST_REDIS_URL } from './env';
import { createTestDatabase, type TestDatabase } from './test-db';
import { freePort } from '../../tools/shared/net';

export { freePort };

export const ROOT = join(__dirname, '..', '..');


export const secret = (): string => randomBytes(32).toString('base64url');

/** The environment of one suite run: its own database, its own Redis key prefix, fresh secrets. */
export interface SuiteEnv {
  readonly db: TestDatabase;
  /** Variables shared by every process of the run. */
  readonly env: Record<string, string>;
}

export async function createSuiteEnv(label: string, overrides: Record<string, string> = {}): Promise<SuiteEnv> {
  const db = await createTestDatabase(label);
  return {
    db,
    env: {
      APP_MODE: 'production',
      DATABASE_URL: db.url,
      DATABASE_POOL_SIZE: '5',
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: `fpa-test:${db.name}:`,
      KEY_ENCRYPTION_KEY: secret(),
      DPOP_NONCE_SECRET: secret(),
      MIGRATIONS_RUN: 'true',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      // Production mode wants transports for the challenge methods; suites that send messages
      // start a real SMTP server / HTTP receiver and override these.
      SMTP_URL: 'smtp://127.0.0.1:1',
      SMS_PROVIDER_URL: 'http://127.0.0.1:1/sms',
      ...overrides,
    },
  };
}

export interface RunningSuite {
  readonly issuer: string;
  readonly app: NestExpressApplication;
  readonly config: AppConfig;
  readonly env: SuiteEnv;
  /** Creates a client through the admin service (what the CLI does). */
  createClient(definition: Record<string, unknown>): Promise<CreatedClient>;
  get<T>(token: string | symbol | (new (...args: never[]) => T)): T;
  close(): Promise<void>;
}

/** The standalone app in this process, listening on a free port, on real PostgreSQL and Redis. */
export async function startStandalone(label: string, overrides: Record<string, string> = {}, existing?: SuiteEnv): Promise<RunningSuite> {
  const suiteEnv = existing ?? (await createSuiteEnv(label));
  let app: NestExpressApplication | undefined;
  let config: AppConfig | undefined;
  // freePort() closes its probe before we listen: another process may take the port in between.
  for (let attempt = 1; !app; attempt++) {
    const port = await freePort();
    config = withEmbeddedSecrets(loadConfig('standalone', { ...suiteEnv.env, PORT: String(port), ISSUER: `http://127.0.0.1:${port}`, ...overrides }));
    const candidate = await createApp(StandaloneAppModule.forRoot(config), config);
    try {
      await candidate.listen(port, '127.0.0.1');
      app = candidate;
    } catch (e) {
      await candidate.close();
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 5) throw e;
    }
  }
  if (!config) throw new Error('unreachable');
  return {
    issuer: config.http.issuer,
    app,
    config,
    env: suiteEnv,
    createClient: (definition) => app.get(ClientAdminService).create(definition),
    get: <T>(token: string | symbol | (new (...args: never[]) => T)) => app.get(token as never) as T,
    async close() {
      await app.close();
      if (!existing) await suiteEnv.db.drop();
    },
  };
}

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

export interface ChildApp {
  readonly name: string;
  readonly url: string;
  readonly process: ChildProcess;
  /** Everything the process wrote (JSON log lines). */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** A built app (`dist/`) as a separate process; resolves once /health/ready answers 200. */
export async function spawnApp(app: 'token' | 'registration' | 'standalone' | 'sample-api' | 'challenge' | 'federation', env: Record<string, string>, options: { port?: number; issuer?: string } = {}): Promise<ChildApp> {
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'apps', app, 'src', 'main.js')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port), ISSUER: options.issuer ?? env.ISSUER ?? url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${app} exited with ${child.exitCode}:\n${out}`);
    try {
      const res = await fetch(`${url}/health/ready`);
      if (res.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${app} did not become ready:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    name: app,
    url,
    process: child,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

export type { INestApplication };
