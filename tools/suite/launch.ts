import { existsSync } from 'node:fs';
import { DEMO_CLIENT } from '@fpa/clients';
import { appMain, AppStartError, checkStores, PRODUCTION_NODE_ARGS, runCli, spawnApp, StoresUnavailableError, type AppProcess } from '@fpa/testing';
import { CONTRACT_ROUTES, startProxy, type Proxy, type ProxyEvent, type RouteRule } from './proxy';

/**
 * The suite as separate processes behind one URL (what `npm run start:suite` runs, and what the
 * e2e tests drive): the stores are checked, migrations run once, then registration, N token
 * replicas, challenge and federation (and optionally the sample API) start on loopback ports with the
 * proxy's URL as their ISSUER, and the path-routing proxy puts them under that one URL.
 */

export type ServiceName = 'registration' | 'token' | 'challenge' | 'federation' | 'sample-api';

export class SuiteStartError extends Error {}

/** Creates a client unless one with its id exists (the CLI's `client create`, tolerant of a re-run). */
export async function ensureClient(definition: Record<string, unknown>, env: Record<string, string>): Promise<'created' | 'exists'> {
  const res = await runCli(['client', 'create', JSON.stringify(definition)], env);
  if (res.code === 0) return 'created';
  if (/already exists/.test(res.output)) return 'exists';
  throw new SuiteStartError(`client create ${String(definition.client_id)} failed:\n${res.output}`);
}

export interface SuiteOptions {
  /** The environment every process shares: DATABASE_URL, REDIS_URL, secrets, SMTP_URL, … (PORT, HOST, ISSUER and MIGRATIONS_RUN are set per process). */
  readonly env: Record<string, string>;
  /** Proxy port (0 = a free one) and bind address (default 127.0.0.1). */
  readonly port?: number;
  readonly host?: string;
  /** The public URL (ISSUER of every app). Default: the proxy's own URL. */
  readonly issuer?: string;
  /** Token processes behind the proxy (default 2). */
  readonly tokenReplicas?: number;
  /** Also run the sample API under /api (what `npm run demo` calls). */
  readonly sampleApi?: boolean;
  /** Create the demo client `demo-app` when absent (what `npm run demo` uses). */
  readonly demoClient?: boolean;
  /** Create the database named by DATABASE_URL when it does not exist. */
  readonly createDatabase?: boolean;
  readonly healthIntervalMs?: number;
  readonly onProxyEvent?: (event: ProxyEvent) => void;
  /** Every log line a process writes. */
  readonly onOutput?: (name: string, line: string) => void;
  /** The suite's and the proxy's own messages. */
  readonly log?: (line: string) => void;
}

export interface RunningSuite {
  readonly issuer: string;
  readonly proxy: Proxy;
  /** The environment the apps got (with ISSUER), e.g. for the CLI. */
  readonly env: Record<string, string>;
  /** Every process started, in start order (also those that have exited since). */
  readonly processes: readonly AppProcess[];
  process(name: string): AppProcess;
  /** Starts one more token process and adds it to the proxy once ready. */
  addTokenReplica(): Promise<AppProcess>;
  /** Stops the proxy, SIGTERMs every process and waits for them. */
  stop(): Promise<void>;
}

export async function startSuite(options: SuiteOptions): Promise<RunningSuite> {
  const log = options.log ?? (() => undefined);
  const env = { ...options.env };
  for (const v of ['DATABASE_URL', 'REDIS_URL'] as const) if (!env[v]) throw new SuiteStartError(`${v} is required`);
  const services: ServiceName[] = ['registration', 'token', 'challenge', 'federation', ...(options.sampleApi ? (['sample-api'] as const) : [])];
  for (const s of [...services, 'cli' as const]) {
    if (!existsSync(appMain(s))) throw new SuiteStartError(`${appMain(s)} is missing: run \`npm run build\` first (npm run start:suite does).`);
  }
  try {
    await checkStores({ databaseUrl: env.DATABASE_URL, redisUrl: env.REDIS_URL, createMissingDatabase: options.createDatabase });
  } catch (e) {
    if (e instanceof StoresUnavailableError) throw new SuiteStartError(`The suite needs PostgreSQL and Redis:\n  - ${e.problems.join('\n  - ')}`);
    throw e;
  }

  const migrated = await runCli(['migration', 'run'], env);
  if (migrated.code !== 0) throw new SuiteStartError(`migrations failed:\n${migrated.output}`);
  log(`migrations: ${migrated.output.trim().split('\n').at(-1) ?? ''}`);
  if (options.demoClient) log(`demo client ${DEMO_CLIENT.client_id}: ${await ensureClient({ ...DEMO_CLIENT }, env)}`);

  const routes: RouteRule[] = [...CONTRACT_ROUTES, ...(options.sampleApi ? [{ path: '/api', prefix: true, service: 'sample-api' }] : [])];
  let proxy: Proxy;
  try {
    proxy = await startProxy({ port: options.port ?? 0, host: options.host, routes, healthIntervalMs: options.healthIntervalMs, onEvent: options.onProxyEvent, log: (l) => log(`proxy: ${l}`) });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new SuiteStartError(`port ${options.port} is in use: set PORT to another one`);
    throw e;
  }
  const issuer = (options.issuer ?? proxy.url).replace(/\/+$/, '');
  const shared: Record<string, string> = { ...env, ISSUER: issuer, MIGRATIONS_RUN: 'false' };
  const processes: AppProcess[] = [];
  let tokenCount = 0;
  const start = async (service: ServiceName): Promise<AppProcess> => {
    const name = service === 'token' ? `token-${++tokenCount}` : service;
    const p = await spawnApp(service, shared, { name, host: '127.0.0.1', nodeArgs: PRODUCTION_NODE_ARGS, onOutput: options.onOutput }).catch((e: unknown) => {
      throw e instanceof AppStartError ? new SuiteStartError(e.message) : e;
    });
    processes.push(p);
    processes.sort((a, b) => order(a.name) - order(b.name));
    proxy.addUpstream(service, name, p.url);
    log(`${name} ready at ${p.url} (pid ${p.pid})`);
    return p;
  };
  const replicas = Math.max(1, options.tokenReplicas ?? 2);
  const order = (name: string): number => {
    const [service, n] = name.split(/-(?=\d+$)/);
    return services.indexOf(service as ServiceName) * 1000 + Number(n ?? 0);
  };
  const list: ServiceName[] = services.flatMap((s) => (s === 'token' ? (Array.from({ length: replicas }, () => 'token') as ServiceName[]) : [s]));
  const started = await Promise.allSettled(list.map(start));
  const stopAll = async (): Promise<void> => {
    await proxy.close(5000);
    await Promise.all(processes.map((p) => p.stop()));
  };
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await stopAll();
    throw failed.reason;
  }
  await proxy.checkHealth();
  let stopping: Promise<void> | undefined;
  return {
    issuer,
    proxy,
    env: shared,
    processes,
    process(name) {
      const p = processes.find((x) => x.name === name);
      if (!p) throw new Error(`no process ${name}`);
      return p;
    },
    addTokenReplica: () => start('token'),
    stop: () => (stopping ??= stopAll()),
  };
}
