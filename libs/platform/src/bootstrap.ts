import type { Server } from 'node:http';
import { type DynamicModule, type INestApplication, type NestApplicationOptions, Logger as NestLogger } from '@nestjs/common';
import { ModulesContainer, NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { ConfigError, loadConfig, withEmbeddedSecrets, type AppConfig, type AppName } from '@fpa/config';
import { AppLogger } from './app-logger';
import { installClientErrorHandler, refuseMissingHost } from './client-error';
import { Lifecycle } from './lifecycle.service';
import { MetricsRegistry } from './metrics.service';
import { observeRequest, type RequestObserver } from './request-logging';

export { BODY_LIMIT } from './request-body.module';

/** Reads and validates the environment; on a bad value prints every problem and exits 1. */
export function configFromEnv(app: AppName, env: NodeJS.ProcessEnv = process.env): AppConfig {
  try {
    return withEmbeddedSecrets(loadConfig(app, env));
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`[${app}] ${e.message}`);
      process.exit(1);
    }
    throw e;
  }
}

/**
 * Application-level setup a module contributes (e.g. the challenge endpoint's OpenAPI document and
 * Swagger UI): a provider under this token, in any module of the app, runs once in `createApp`,
 * after the HTTP conventions and before the app listens (so its routes come before Nest's 404 handler).
 */
export const APP_SETUP = Symbol('APP_SETUP');
export interface AppSetup {
  setup(app: NestExpressApplication, config: AppConfig): void | Promise<void>;
}

/** How long an idle keep-alive connection stays open (configureHttp). */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** How every app is created: body parsing is our own middleware, logs wait for pino. */
export const NEST_APP_OPTIONS = { bodyParser: false, bufferLogs: true, abortOnError: false } as const satisfies NestApplicationOptions;

/** Builds the Nest application with the suite's HTTP conventions, without listening. */
export async function createApp(module: DynamicModule, config: AppConfig): Promise<NestExpressApplication> {
  return setUpApp(await NestFactory.create<NestExpressApplication>(module, NEST_APP_OPTIONS), config);
}

/**
 * What `createApp` does once Nest has built the app: the logger, the HTTP conventions and every
 * module's APP_SETUP. Apart so an app compiled another way (a testing module whose CLOCK is
 * overridden, @fpa/testing's startApp) gets exactly the same set-up.
 */
export async function setUpApp(app: NestExpressApplication, config: AppConfig): Promise<NestExpressApplication> {
  app.useLogger(app.get(AppLogger));
  configureHttp(app, config);
  // Nest has no multi-providers: collect APP_SETUP from every module.
  for (const m of app.get(ModulesContainer).values()) {
    const setup = m.providers.get(APP_SETUP)?.instance as AppSetup | undefined;
    if (setup) await setup.setup(app, config);
  }
  return app;
}

export function configureHttp(app: NestExpressApplication, config: AppConfig): void {
  app.set('trust proxy', config.http.trustProxy);
  app.disable('x-powered-by');
  app.set('etag', false);
  // No endpoint reads a query string (RFC 6749 parameters travel in the body).
  app.set('query parser', false);
  const observer: RequestObserver = { root: app.get(AppLogger).root, duration: app.get(MetricsRegistry).httpDuration };
  const lifecycle = app.get(Lifecycle);
  const server = app.getHttpServer() as Server;
  // CONTRACT §2 also for what Node's parser refuses before Express runs (issue 8 item 4).
  installClientErrorHandler(server);
  // Idle keep-alive connections stay open 65 s, not Node's 5 s: longer than load balancers' idle timeouts
  // (60 s is common), so the peer closes first, and a busy client does not send a request on a connection the
  // server is closing at that moment (ECONNRESET, seen by the bench drivers under load).
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;

  // One middleware for what every request gets (each Express layer costs a router step): the
  // request id, req.log, latency and the completion line (request-logging.ts), the headers.
  app.use((req: Request, res: Response, next: NextFunction) => {
    observeRequest(req, res, observer);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    if (lifecycle.isDraining) res.setHeader('Connection', 'close');
    if (refuseMissingHost(req, res)) return;
    next();
  });

  // Body parsing is module middleware (RequestBodyModule), so it runs after this one.
}

/**
 * Starts an app: config → Nest → listen, and a graceful SIGTERM: readiness fails at once, new
 * connections are still served for SHUTDOWN_GRACE_MS (load balancers notice), then the server stops
 * accepting, in-flight requests finish, and only then PostgreSQL and Redis are closed.
 */
export async function runApp(app: AppName, moduleFor: (config: AppConfig) => DynamicModule, afterStart?: (nest: INestApplication, config: AppConfig) => Promise<void>): Promise<INestApplication> {
  const config = configFromEnv(app);
  let nest: NestExpressApplication;
  try {
    nest = await createApp(moduleFor(config), config);
    await nest.listen(config.http.port, config.http.host);
  } catch (e) {
    console.error(`[${app}] failed to start: ${(e as Error).message}`);
    process.exit(1);
  }
  const logger = new NestLogger('Bootstrap');
  const address = nest.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  logger.log(`${app} listening on ${config.http.host}:${port} (issuer ${config.http.issuer}, mode ${config.mode})`);
  if (afterStart) await afterStart(nest, config);
  installShutdown(nest, config, logger);
  return nest;
}

function installShutdown(nest: NestExpressApplication, config: AppConfig, logger: NestLogger): void {
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    nest.get(Lifecycle).startDraining();
    logger.log(`${signal}: draining (readiness now fails)`);
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.http.shutdownGraceMs + 30_000);
    force.unref();
    await new Promise((r) => setTimeout(r, config.http.shutdownGraceMs));
    const server = nest.getHttpServer() as Server;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // close() shuts idle keep-alive connections once; a request still running now leaves its
    // connection idle later, which would hold close() open for the keep-alive timeout. Sweep them.
    const sweeper = setInterval(() => server.closeIdleConnections(), 100);
    await closed;
    clearInterval(sweeper);
    await nest.close();
    logger.log('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
