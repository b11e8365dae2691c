import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { freePort, sleep } from './net';

/**
 * The built apps (`dist/apps/<app>/src/main.js`) as child processes, for the e2e tests, the benchmark
 * and the local suite: spawn with an environment, wait for /health/ready, keep what they write, stop
 * them with a signal. Nothing else of the environment leaks in: a child gets PATH and what it is given.
 */

/** The repository root: the nearest folder above this file with package.json and apps/ (from dist/ and from sources). */
export const ROOT = findRoot(__dirname);

function findRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'apps'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no repository root above ${start}`);
  }
}

export type BuiltApp = 'standalone' | 'registration' | 'token' | 'challenge' | 'federation' | 'sample-api' | 'cli';

/** The entry point `npm run build` writes for an app. */
export const appMain = (app: BuiltApp): string => join(ROOT, 'dist', 'apps', app, 'src', 'main.js');

/**
 * What `npm run start:*` (and the Dockerfile) pass to node (issue 13 goal 4, docs/benchmarks.md "Per-request
 * overhead and memory"): a 16 MB semi-space (the young generation is 2 × that; 32 cost 32 MB more RSS), and the
 * old generation allowed to grow to 1.3 × what the last full GC kept (V8 chose ~2.5 ×, most of the peak RSS
 * under load) — a few more full GCs for ~90 MB less peak RSS.
 */
export const PRODUCTION_NODE_ARGS: readonly string[] = ['--max-semi-space-size=16', '--heap-growing-percent=30'];

/** A built app is missing, exited during start-up or did not become ready; the message carries its output. */
export class AppStartError extends Error {}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SpawnAppOptions {
  /** Default: a free loopback port. */
  readonly port?: number;
  /** ISSUER; default `env.ISSUER`, else the process's own URL. */
  readonly issuer?: string;
  /** HOST, when the environment should not decide it. */
  readonly host?: string;
  /** node flags before the entry point (e.g. PRODUCTION_NODE_ARGS, `--cpu-prof`). */
  readonly nodeArgs?: readonly string[];
  /** A label for messages and `onOutput` (default: the app), e.g. `token-2`. */
  readonly name?: string;
  /** Default 60 s. */
  readonly readyTimeoutMs?: number;
  /** How much of the output `output()` keeps, in characters (default 1 MiB). */
  readonly outputLimit?: number;
  /** Every complete line the process writes. */
  readonly onOutput?: (name: string, line: string) => void;
}

export interface StopOptions {
  /** Default SIGTERM (graceful: readiness fails, in-flight requests finish, the audit buffer is flushed). */
  readonly signal?: NodeJS.Signals;
  /** SIGKILL after this long (default 30 s). */
  readonly graceMs?: number;
}

/** One built app running as a child process. */
export interface AppProcess {
  readonly app: BuiltApp;
  readonly name: string;
  /** Its own loopback URL (health and metrics are here even behind a proxy). */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Settles once the process has exited and everything it wrote has been read. */
  readonly exit: Promise<ExitStatus>;
  exited(): boolean;
  /** What it wrote (JSON log lines), the last `outputLimit` characters. */
  output(): string;
  /** Sends the signal (unless it has exited), SIGKILL after `graceMs`; resolves with how it ended. */
  stop(options?: StopOptions): Promise<ExitStatus>;
}

/** Starts `dist/apps/<app>/src/main.js` with PATH, `env`, PORT, ISSUER (and HOST); resolves once /health/ready answers 200. */
export async function spawnApp(app: BuiltApp, env: Record<string, string>, options: SpawnAppOptions = {}): Promise<AppProcess> {
  const main = appMain(app);
  if (!existsSync(main)) throw new AppStartError(`${main} is missing: run \`npm run build\` first`);
  const name = options.name ?? app;
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const limit = options.outputLimit ?? 1024 * 1024;
  const childEnv: Record<string, string> = { PATH: process.env.PATH ?? '', ...env, PORT: String(port), ISSUER: options.issuer ?? env.ISSUER ?? url };
  if (options.host) childEnv.HOST = options.host;
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), main], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let partial = '';
  const keep = (d: Buffer): void => {
    const s = d.toString();
    out += s;
    if (out.length > 2 * limit) out = out.slice(-limit);
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
  const proc: AppProcess = {
    app,
    name,
    url,
    port,
    pid: child.pid ?? -1,
    child,
    exit,
    exited,
    output: () => out.slice(-limit),
    async stop({ signal = 'SIGTERM', graceMs = 30_000 } = {}) {
      if (!exited()) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const status = await exit;
      clearTimeout(timer);
      return status;
    },
  };
  if (proc.pid < 0) throw new AppStartError(`could not start ${name}`);
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (exited()) {
      await exit;
      throw new AppStartError(`${name} exited during start-up (${child.exitCode ?? child.signalCode}):\n${out.slice(-8000)}`);
    }
    try {
      const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return proc;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await proc.stop({ graceMs: 1000 });
      throw new AppStartError(`${name} did not become ready within ${Math.round((options.readyTimeoutMs ?? 60_000) / 1000)} s:\n${out.slice(-8000)}`);
    }
    await sleep(100);
  }
}

export interface RunResult {
  readonly code: number | null;
  readonly output: string;
}

/** Runs a node script (relative to the repository root, or absolute) to completion, or SIGKILLs it after `timeoutMs`. */
export function runNode(script: string, args: readonly string[], env: Record<string, string>, options: { timeoutMs?: number } = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [isAbsolute(script) ? script : join(ROOT, script), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      output += `\n[killed after ${timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** The administration CLI (`dist/apps/cli/src/main.js <args>`) with the apps' environment. */
export function runCli(args: readonly string[], env: Record<string, string>, options: { timeoutMs?: number } = {}): Promise<RunResult> {
  return runNode(appMain('cli'), args, env, options);
}
