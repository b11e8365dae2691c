import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { freePort } from '../shared/net';

export { freePort };

/** The repository root: the nearest folder above this file with a package.json (works from dist/ and from sources). */
export const ROOT = findRoot(__dirname);

function findRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'apps'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no repository root above ${start}`);
  }
}


const OUTPUT_KEEP = 64 * 1024;

/** One built app (`dist/apps/<name>/src/main.js`) running as a child process. */
export interface AppProcess {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  /** The last 64 KiB the process wrote (JSON log lines), for failure reports. */
  output(): string;
  exited(): boolean;
  /** SIGTERM (graceful: the apps flush their audit buffer), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** What `npm run start:*` passes to node: a larger young generation means fewer scavenges per request. */
export const PRODUCTION_NODE_ARGS = ['--max-semi-space-size=32'];

export async function startApp(name: 'token' | 'registration' | 'challenge', env: Record<string, string>, port: number, nodeArgs: readonly string[] = []): Promise<AppProcess> {
  const main = join(ROOT, 'dist', 'apps', name, 'src', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` (npm run bench builds first)`);
  const url = `http://127.0.0.1:${port}`;
  // The same V8 flags as the apps' start scripts (package.json), then any extra ones.
  const child: ChildProcess = spawn(process.execPath, [...PRODUCTION_NODE_ARGS, ...nodeArgs, main], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer): void => {
    out += d.toString();
    if (out.length > 2 * OUTPUT_KEEP) out = out.slice(-OUTPUT_KEEP);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const app: AppProcess = {
    name,
    url,
    pid: child.pid ?? -1,
    output: () => out.slice(-OUTPUT_KEEP),
    exited: () => child.exitCode !== null || child.signalCode !== null,
    async stop(graceMs = 10_000) {
      if (app.exited()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
  if (app.pid < 0) throw new Error(`could not start ${name}`);
  const deadline = Date.now() + 45_000;
  for (;;) {
    if (app.exited()) throw new Error(`${name} exited during start-up (code ${child.exitCode ?? child.signalCode}):\n${app.output()}`);
    try {
      const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return app;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await app.stop(1_000);
      throw new Error(`${name} did not become ready within 45 s:\n${app.output()}`);
    }
    await sleep(100);
  }
}

/** `node dist/apps/cli/src/main.js <args>` with the apps' environment. */
export function runCli(args: readonly string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(ROOT, 'dist', 'apps', 'cli', 'src', 'main.js'), ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`cli ${args[0]} ${args[1] ?? ''} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

export interface ProcessSample {
  /** Peak resident set size since start (or since the last resetPeak), bytes. */
  readonly peakRssBytes: number;
  readonly rssBytes: number;
  /** User + system CPU time consumed so far, ms. */
  readonly cpuMs: number;
}

const CLOCK_TICKS = 100; // USER_HZ; 100 on every Linux the suite runs on (getconf CLK_TCK)

/** Reads /proc/<pid>/status (VmHWM, VmRSS) and /proc/<pid>/stat (utime, stime). Linux only. */
export function sampleProcess(pid: number): ProcessSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at "state" (field 3).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime (14), stime (15)
    return { peakRssBytes: kb('VmHWM'), rssBytes: kb('VmRSS'), cpuMs: (ticks * 1000) / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}

/** Resets VmHWM to the current RSS (`echo 5 > /proc/<pid>/clear_refs`), so the next sample's peak is per phase. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
