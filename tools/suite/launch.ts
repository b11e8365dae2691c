import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { DEMO_CLIENT } from '@fpa/clients';
import { CONTRACT_ROUTES, startProxy, type Proxy, type ProxyEvent, type RouteRule } from './proxy';
import { freePort } from '../shared/net';

export { freePort };

/**
 * The suite as separate processes behind one URL (what `npm run start:suite` runs, and what the
 * e2e tests drive): the stores are checked, migrations run once, then registration, N token
 * replicas, challenge and federation (and optionally the sample API) start on loopback ports with the
 * proxy's URL as their ISSUER, and the path-routing proxy puts them under that one URL.
 */

/** The repository root: the nearest folder above this file with package.json and apps/ (works from dist/ and sources). */
export const ROOT = findRoot(__dirname);

function findRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'apps'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no repository root above ${start}`);
  }
}

export type ServiceName = 'registration' | 'token' | 'challenge' | 'federation' | 'sample-api';

/** What `npm run start:*` passes to node. */
const NODE_ARGS = ['--max-semi-space-size=32'];

const main = (app: ServiceName | 'cli'): string => join(ROOT, 'dist', 'apps', app, 'src', 'main.js');

export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<not a URL>';
  }
}


export class SuiteStartError extends Error {}

/**
 * Fails with a message saying what to start when PostgreSQL or Redis does not answer. With
 * `createDatabase`, a missing database (PostgreSQL error 3D000) is created from the `postgres` one.
 */
export async function checkStores(databaseUrl: string, redisUrl: string, options: { createDatabase?: boolean } = {}): Promise<void> {
  const problems: string[] = [];
  try {
    await pingPostgres(databaseUrl, options.createDatabase === true);
  } catch (e) {
    problems.push(
      `PostgreSQL is not reachable at ${redact(databaseUrl)} (${describe(e)}).\n` +
        `    Start it (e.g. pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or set DATABASE_URL.`,
    );
  }
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 3000, retryStrategy: () => null });
  let lastError: unknown;
  redis.on('error', (e) => (lastError = e));
  try {
    await redis.connect();
    await redis.ping();
  } catch (e) {
    problems.push(
      `Redis is not reachable at ${redact(redisUrl)} (${describe(lastError ?? e)}).\n` +
        `    Start it (e.g. redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no) or set REDIS_URL.`,
    );
  } finally {
    redis.disconnect();
  }
  if (problems.length > 0) throw new SuiteStartError(`The suite needs PostgreSQL and Redis:\n  - ${problems.join('\n  - ')}`);
}

function describe(e: unknown): string {
  const err = e as { code?: string; message?: string; errors?: { code?: string }[] };
  return err.code ?? err.errors?.[0]?.code ?? err.message ?? String(e);
}

async function pingPostgres(url: string, createDatabase: boolean): Promise<void> {
  const pg = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await pg.connect();
    await pg.query('SELECT 1');
    return;
  } catch (e) {
    if ((e as { code?: string }).code !== '3D000' || !createDatabase) throw e;
  } finally {
    await pg.end().catch(() => undefined);
  }
  // The database does not exist yet: create it from the maintenance database.
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.slice(1));
  u.pathname = '/postgres';
  const admin = new Client({ connectionString: u.toString(), connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } finally {
    await admin.end().catch(() => undefined);
  }
}

export interface CliResult {
  readonly code: number | null;
  readonly output: string;
}

/** `node dist/apps/cli/src/main.js <args>` with the apps' environment. */
export function runCli(args: readonly string[], env: Record<string, string>, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [main('cli'), ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Creates a client unless one with its id exists (the CLI's `client create`, tolerant of a re-run). */
export async function ensureClient(definition: Record<string, unknown>, env: Record<string, string>): Promise<'created' | 'exists'> {
  const res = await runCli(['client', 'create', JSON.stringify(definition)], env);
  if (res.code === 0) return 'created';
  if (/already exists/.test(res.output)) return 'exists';
  throw new SuiteStartError(`client create ${String(definition.client_id)} failed:\n${res.output}`);
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** One app as a child process. */
export interface ServiceProcess {
  /** `registration`, `token-1`, `token-2`, … */
  readonly name: string;
  readonly service: ServiceName;
  /** Its own loopback URL (health and metrics are here, not behind the proxy). */
  readonly url: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Settles when the process has exited and its output is read. */
  readonly exit: Promise<ExitStatus>;
  exited(): boolean;
  /** What it wrote (JSON log lines), the last 1 MiB. */
  output(): string;
  /** SIGTERM (graceful), SIGKILL after `timeoutMs`; resolves with how it ended. */
  stop(timeoutMs?: number): Promise<ExitStatus>;
}

const OUTPUT_KEEP = 1024 * 1024;

export async function spawnService(
  service: ServiceName,
  name: string,
  env: Record<string, string>,
  options: { port?: number; readyTimeoutMs?: number; onOutput?: (name: string, line: string) => void } = {},
): Promise<ServiceProcess> {
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [...NODE_ARGS, main(service)], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let partial = '';
  const keep = (d: Buffer): void => {
    const s = d.toString();
    out += s;
    if (out.length > 2 * OUTPUT_KEEP) out = out.slice(-OUTPUT_KEEP);
    if (options.onOutput) {
      const lines = (partial + s).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) options.onOutput(name, line);
    }
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // 'close', not 'exit': by then everything the process wrote has been read.
  const exit = new Promise<ExitStatus>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const proc: ServiceProcess = {
    name,
    service,
    url,
    pid: child.pid ?? -1,
    child,
    exit,
    exited,
    output: () => out.slice(-OUTPUT_KEEP),
    async stop(timeoutMs = 30_000) {
      if (!exited()) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const status = await exit;
      clearTimeout(timer);
      return status;
    },
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (exited()) throw new SuiteStartError(`${name} exited during start-up (${child.exitCode ?? child.signalCode}):\n${out.slice(-8000)}`);
    try {
      const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return proc;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await proc.stop(1000);
      throw new SuiteStartError(`${name} did not become ready:\n${out.slice(-8000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
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
  readonly processes: readonly ServiceProcess[];
  process(name: string): ServiceProcess;
  /** Starts one more token process and adds it to the proxy once ready. */
  addTokenReplica(): Promise<ServiceProcess>;
  /** Stops the proxy, SIGTERMs every process and waits for them. */
  stop(): Promise<void>;
}

export async function startSuite(options: SuiteOptions): Promise<RunningSuite> {
  const log = options.log ?? (() => undefined);
  const env = { ...options.env };
  for (const v of ['DATABASE_URL', 'REDIS_URL'] as const) if (!env[v]) throw new SuiteStartError(`${v} is required`);
  const services: ServiceName[] = ['registration', 'token', 'challenge', 'federation', ...(options.sampleApi ? (['sample-api'] as const) : [])];
  for (const s of [...services, 'cli' as const]) {
    if (!existsSync(main(s))) throw new SuiteStartError(`${main(s)} is missing: run \`npm run build\` first (npm run start:suite does).`);
  }
  await checkStores(env.DATABASE_URL, env.REDIS_URL, { createDatabase: options.createDatabase });

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
  const processes: ServiceProcess[] = [];
  let tokenCount = 0;
  const start = async (service: ServiceName): Promise<ServiceProcess> => {
    const name = service === 'token' ? `token-${++tokenCount}` : service;
    const p = await spawnService(service, name, shared, { onOutput: options.onOutput });
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
