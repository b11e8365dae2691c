import type { DynamicModule } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { ClientAdminService, type CreatedClient } from '@fpa/clients';
import { loadConfig, withEmbeddedSecrets, type AppConfig, type AppName } from '@fpa/config';
import { CLOCK } from '@fpa/oauth-core';
import { NEST_APP_OPTIONS, setUpApp } from '@fpa/platform';
import { StandaloneAppModule } from '../../../apps/standalone/src/standalone-app.module';
import { TestClock } from './clock';
import { freePort } from './net';
import { createSuiteEnv, type SuiteEnv } from './suite-env';

/**
 * `@fpa/testing/app`: an app module in this process (the e2e tests), on real PostgreSQL and Redis
 * with the real migrations, its CLOCK replaced by a TestClock. Not for tools/: it loads
 * @nestjs/testing and every app module.
 */

export interface StartAppOptions {
  /** Names the database (`fpa_t_<label>_…`). Default `app`. */
  readonly label?: string;
  /** The root module for a config (default: the standalone app, every module in one process). */
  readonly module?: (config: AppConfig) => DynamicModule;
  /** Which app's configuration rules apply (default `standalone`). */
  readonly app?: AppName;
  /** Environment variables over the run's (e.g. `CHALLENGE_RESEND_SECONDS: '0'`). */
  readonly overrides?: Record<string, string>;
  /** Replaces the app's CLOCK (default: a new TestClock, which follows real time until moved). */
  readonly clock?: TestClock;
  /** Run on this environment (another app's database, say) instead of a fresh one; `close` leaves it. */
  readonly env?: SuiteEnv;
  /**
   * The host in ISSUER (default `127.0.0.1`; it always listens on 127.0.0.1). A browser test uses
   * `localhost`: WebAuthn refuses an IP address as relying-party id.
   */
  readonly issuerHost?: 'localhost' | '127.0.0.1';
}

export interface RunningApp {
  /** `http://127.0.0.1:<port>` (or `localhost`, see `issuerHost`): ISSUER and the URL it listens on. */
  readonly issuer: string;
  readonly app: NestExpressApplication;
  readonly config: AppConfig;
  readonly env: SuiteEnv;
  /** The app's CLOCK: `suite.clock.advance(ms)` makes codes, challenges and sessions expire. */
  readonly clock: TestClock;
  /** Creates a client through the admin service (what the CLI does). */
  createClient(definition: Record<string, unknown>): Promise<CreatedClient>;
  get<T>(token: string | symbol | (new (...args: never[]) => T)): T;
  /** Closes the app, then drops the database and the Redis keys it created (unless `env` was given). */
  close(): Promise<void>;
}

/** Builds `module` on a fresh database and Redis prefix, its CLOCK replaced, listening on a free loopback port. */
export async function startApp(options: StartAppOptions = {}): Promise<RunningApp> {
  const suiteEnv = options.env ?? (await createSuiteEnv(options.label ?? 'app'));
  const clock = options.clock ?? new TestClock();
  const moduleFor = options.module ?? ((c: AppConfig) => StandaloneAppModule.forRoot(c));
  let app: NestExpressApplication | undefined;
  let config: AppConfig | undefined;
  try {
    // freePort() closes its probe before we listen: another process may take the port in between.
    for (let attempt = 1; !app; attempt++) {
      const port = await freePort();
      config = withEmbeddedSecrets(loadConfig(options.app ?? 'standalone', { ...suiteEnv.env, PORT: String(port), ISSUER: `http://${options.issuerHost ?? '127.0.0.1'}:${port}`, ...options.overrides }));
      const ref = await Test.createTestingModule({ imports: [moduleFor(config)] })
        .overrideProvider(CLOCK)
        .useValue(clock)
        .compile();
      const candidate = await setUpApp(ref.createNestApplication<NestExpressApplication>(NEST_APP_OPTIONS), config);
      try {
        await candidate.listen(port, '127.0.0.1');
        app = candidate;
      } catch (e) {
        await candidate.close();
        if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 5) throw e;
      }
    }
  } catch (e) {
    if (!options.env) await suiteEnv.dispose();
    throw e;
  }
  if (!config) throw new Error('unreachable');
  const running = app;
  return {
    issuer: config.http.issuer,
    app: running,
    config,
    env: suiteEnv,
    clock,
    createClient: (definition) => running.get(ClientAdminService, { strict: false }).create(definition),
    get: <T>(token: string | symbol | (new (...args: never[]) => T)) => running.get(token as never, { strict: false }) as T,
    async close() {
      await running.close();
      if (!options.env) await suiteEnv.dispose();
    },
  };
}

/** The standalone app (`startApp` with its defaults): `overrides` over the run's environment, on `existing` stores when given. */
export function startStandalone(label: string, overrides: Record<string, string> = {}, existing?: SuiteEnv): Promise<RunningApp> {
  return startApp({ label, overrides, env: existing });
}
