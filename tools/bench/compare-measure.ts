import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT, sleep } from '@fpa/testing';
import type { ServerRound } from './compare-report';
import type { PhaseResult } from './load';
import { resetPeak, sampleProcess } from './processes';
import { sampleStoreCpu, storeCpuBetween } from './stores';

/**
 * How `npm run bench:compare` (issue 13) runs node-oidc-provider and measures one round of either
 * server: the server process's CPU and peak RSS from /proc, PostgreSQL's and Redis's CPU when the
 * server uses them, and how busy the rest of the machine was meanwhile (the noise indicator).
 */

/** A server process under measurement (ours is an AppProcess, which has these members too). */
export interface MeasuredProcess {
  readonly name: string;
  readonly pid: number;
  readonly url: string;
  exited(): boolean;
  output(): string;
}

export interface OidcProviderProcess extends MeasuredProcess {
  stop(): Promise<void>;
}

/** Starts dist/tools/bench/compare-oidc-server.js; resolves once it listens and serves its discovery document. */
export async function startOidcProvider(configFile: string, port: number, nodeArgs: readonly string[]): Promise<OidcProviderProcess> {
  const script = join(ROOT, 'dist', 'tools', 'bench', 'compare-oidc-server.js');
  const child = spawn(process.execPath, [...nodeArgs, script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', BENCH_OP_CONFIG: configFile, PORT: String(port), NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-64 * 1024)));
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const listening = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node-oidc-provider did not start within 30 s:\n${out}`)), 30_000);
    child.once('exit', (code) => reject(new Error(`node-oidc-provider exited during start-up (${code}):\n${out}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      out = (out + line + '\n').slice(-64 * 1024);
      try {
        const parsed = JSON.parse(line) as { port?: unknown };
        if (typeof parsed.port === 'number') {
          clearTimeout(timer);
          resolve(parsed.port);
        }
      } catch {
        /* a warning line */
      }
    });
  });
  if (listening !== port) throw new Error(`node-oidc-provider listens on ${listening}, not ${port}`);
  const url = `http://127.0.0.1:${port}`;
  const res = await fetch(`${url}/.well-known/openid-configuration`);
  if (res.status !== 200) throw new Error(`node-oidc-provider's discovery document answered ${res.status}: ${await res.text()}`);
  await res.arrayBuffer().catch(() => undefined);
  return {
    name: 'node-oidc-provider',
    pid: child.pid ?? -1,
    url,
    exited,
    output: () => out,
    async stop() {
      if (!exited()) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await closed;
      clearTimeout(timer);
    },
  };
}

/** CPU time of all CPUs (ms): busy (everything but idle and iowait) from the first line of /proc/stat. */
export function machineBusyMs(): number | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const busy = fields.slice(0, 8).reduce((a, v, i) => (i === 3 || i === 4 ? a : a + v), 0);
    return (busy * 1000) / 100;
  } catch {
    return undefined;
  }
}

/** Where the stores are, when the server under measurement uses them (ours). */
export interface StoreTarget {
  readonly adminUrl: string;
  readonly dbName: string;
  readonly redisUrl: string;
}

/** Pause after a round before the closing samples, so deferred work the round caused (batched audit writes, GC) is counted. */
const SETTLE_MS = 500;

/**
 * Runs one round against `server` and returns its load result with what the round cost: the
 * server's CPU and peak RSS, the stores' CPU (with `stores`), and the rest of the machine's CPU
 * (all CPUs' busy time − the server − the stores − this process, the load driver).
 */
export async function measureRound(server: MeasuredProcess, stores: StoreTarget | undefined, run: () => Promise<PhaseResult>): Promise<{ result: PhaseResult; round: ServerRound }> {
  const storesBefore = stores ? await sampleStoreCpu(stores.adminUrl, stores.dbName, stores.redisUrl) : undefined;
  const peakReset = resetPeak(server.pid);
  const before = sampleProcess(server.pid);
  const machineBefore = machineBusyMs();
  const selfBefore = process.cpuUsage();
  const t0 = performance.now();
  const result = await run();
  await sleep(SETTLE_MS);
  const self = process.cpuUsage(selfBefore);
  const machineAfter = machineBusyMs();
  const wallMs = performance.now() - t0;
  const after = sampleProcess(server.pid);
  if (server.exited()) throw new Error(`${server.name} exited during "${result.title}":\n${server.output().slice(-4000)}`);
  const storeCpu = stores && storesBefore ? storeCpuBetween(storesBefore, await sampleStoreCpu(stores.adminUrl, stores.dbName, stores.redisUrl)) : undefined;
  const serverCpuMs = before && after ? after.cpuMs - before.cpuMs : undefined;
  const selfMs = (self.user + self.system) / 1000;
  const accounted = (serverCpuMs ?? 0) + (storeCpu?.postgresMs ?? 0) + (storeCpu?.redisMs ?? 0) + selfMs;
  const otherCores = machineBefore !== undefined && machineAfter !== undefined ? Math.max(0, machineAfter - machineBefore - accounted) / wallMs : undefined;
  return {
    result,
    round: {
      rps: result.rps,
      p50: result.latency.p50,
      p99: result.latency.p99,
      completed: result.completed,
      non2xx: result.non2xx,
      errors: result.errors,
      seconds: result.seconds,
      timeBound: result.timeBound,
      serverCpuMs,
      postgresCpuMs: storeCpu?.postgresMs,
      redisCpuMs: storeCpu?.redisMs,
      peakRssBytes: after && peakReset ? after.peakRssBytes : undefined,
      otherCores,
    },
  };
}
