import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { sampleProcess } from './processes';

/**
 * `npm run bench:embedded` (issue 13 goal 4): how fast the embedded default (`npm start`) is ready and
 * how much memory it holds when idle. Each round starts `node dist/apps/standalone/src/main.js` as
 * `npm start` does, on a fresh DATA_DIR (initdb, migrations, generated secrets, demo clients) and then
 * again on that same, now warm, DATA_DIR; it polls `/health/ready` every 20 ms from the spawn, waits
 * EMBEDDED_IDLE_SECONDS (default 5) and reads VmRSS / VmHWM from /proc/<pid>/status. The medians of
 * EMBEDDED_ROUNDS rounds (default 3) are printed. Linux only (reads /proc).
 */

const MAIN = resolve(__dirname, '../../apps/standalone/src/main.js');
// As `npm start`; EMBEDDED_NODE_ARGS adds more (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
const NODE_ARGS = ['--max-semi-space-size=16', '--heap-growing-percent=30', ...(process.env.EMBEDDED_NODE_ARGS ?? '').split(' ').filter(Boolean)];

interface StartSample {
  readonly readyMs: number;
  /** CPU time the app process (and its initdb child) had used when it first answered ready: less sensitive to a busy machine than readyMs. */
  readonly readyCpuMs: number;
  readonly idleRssMb: number;
  readonly peakRssMb: number;
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => done(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** CPU time of the process's waited-for children (cutime + cstime): the initdb child of a fresh start. */
function childrenCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100; // cutime (16), cstime (17); USER_HZ = 100
  } catch {
    return NaN;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitReady(url: string, child: ChildProcess, started: bigint, output: () => string): Promise<number> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the app exited with ${child.exitCode} before it was ready:\n${output()}`);
    try {
      const res = await fetch(`${url}/health/ready`);
      await res.arrayBuffer();
      if (res.status === 200) return Number(process.hrtime.bigint() - started) / 1e6;
    } catch {
      // not listening yet
    }
    if (Number(process.hrtime.bigint() - started) > 120e9) throw new Error(`not ready after 120 s:\n${output()}`);
    await sleep(20);
  }
}

async function startOnce(dataDir: string, idleSeconds: number): Promise<StartSample> {
  const port = await freePort();
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [...NODE_ARGS, MAIN], {
    env: { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', ISSUER: `http://127.0.0.1:${port}`, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  try {
    const readyMs = await waitReady(`http://127.0.0.1:${port}`, child, started, () => out);
    const readyCpuMs = (sampleProcess(child.pid!)?.cpuMs ?? NaN) + childrenCpuMs(child.pid!);
    await sleep(idleSeconds * 1000);
    const sample = sampleProcess(child.pid!);
    if (!sample) throw new Error('could not read /proc for the app process');
    return { readyMs, readyCpuMs, idleRssMb: sample.rssBytes / 2 ** 20, peakRssMb: sample.peakRssBytes / 2 ** 20 };
  } finally {
    const exited = new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    child.kill('SIGTERM');
    await exited;
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const rounds = Number(process.env.EMBEDDED_ROUNDS ?? 3);
  const idleSeconds = Number(process.env.EMBEDDED_IDLE_SECONDS ?? 5);
  const fresh: StartSample[] = [];
  const warm: StartSample[] = [];
  console.log(`embedded default start-up: ${rounds} rounds, ${idleSeconds} s idle; ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (let i = 0; i < rounds; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'fpa-embedded-bench-'));
    try {
      fresh.push(await startOnce(dir, idleSeconds));
      warm.push(await startOnce(dir, idleSeconds));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const f = fresh.at(-1)!;
    const w = warm.at(-1)!;
    console.log(`round ${i + 1}: fresh ready ${f.readyMs.toFixed(0)} ms (CPU ${f.readyCpuMs.toFixed(0)} ms), idle RSS ${f.idleRssMb.toFixed(0)} MB (peak ${f.peakRssMb.toFixed(0)}); warm ready ${w.readyMs.toFixed(0)} ms (CPU ${w.readyCpuMs.toFixed(0)} ms), idle RSS ${w.idleRssMb.toFixed(0)} MB (peak ${w.peakRssMb.toFixed(0)})`);
  }
  const row = (name: string, xs: StartSample[]): string =>
    `| ${name} | ${median(xs.map((x) => x.readyMs)).toFixed(0)} ms | ${median(xs.map((x) => x.readyCpuMs)).toFixed(0)} ms | ${median(xs.map((x) => x.idleRssMb)).toFixed(0)} MB | ${median(xs.map((x) => x.peakRssMb)).toFixed(0)} MB |`;
  console.log(['', '| DATA_DIR | ready (median) | CPU until ready (median) | idle RSS (median) | peak RSS (median) |', '|---|---:|---:|---:|---:|', row('fresh', fresh), row('warm', warm)].join('\n'));
}

main().catch((e: Error) => {
  console.error(e.message);
  process.exit(1);
});
