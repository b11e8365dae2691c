import type { AppProcess } from '@fpa/testing';
import type { ChallengeRunResult } from './challenge-flow';
import type { ClosedLoopResult } from './closed-loop';
import type { PhaseResult } from './load';
import { resetPeak, sampleProcess } from './processes';
import type { BenchContext } from './context';
import { failureRatio, type PhaseReport, type ProcessUsage } from './report';
import { sampleStoreCpu, storeCpuBetween } from './stores';

/** How a benchmark phase is measured (server CPU and peak RSS around it), described and judged, and the run's cleanup. */

/** More failed requests (or round trips) than this fails the run. */
export const MAX_FAILURE_RATIO = 0.005;

export const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Undo actions, run last-in first-out exactly once, whatever happened (errors, signals). */
export class Cleanup {
  private readonly steps: { name: string; fn: () => Promise<unknown> }[] = [];
  private running: Promise<void> | undefined;

  add(name: string, fn: () => Promise<unknown>): void {
    this.steps.push({ name, fn });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      while (this.steps.length > 0) {
        const step = this.steps.pop()!;
        try {
          await step.fn();
        } catch (e) {
          console.error(`[bench] cleanup "${step.name}" failed: ${(e as Error).message}`);
        }
      }
    })();
    return this.running;
  }
}

/**
 * Signals and stray errors end a benchmark through its cleanup (servers stopped, database dropped),
 * once, with the conventional exit code. `on`, not `once`: removing the last signal listener restores
 * the default action before the handler runs.
 */
export function abortThroughCleanup(cleanup: Cleanup, tag: string): void {
  let aborting = false;
  const abort = (why: string, code: number) => (e?: unknown) => {
    if (aborting) return;
    aborting = true;
    console.error(`\n[${tag}] ${why}${e instanceof Error ? `: ${e.stack ?? e.message}` : ''}; cleaning up`);
    void cleanup.run().finally(() => process.exit(code));
  };
  process.on('SIGINT', abort('interrupted (SIGINT)', 130));
  process.on('SIGTERM', abort('terminated (SIGTERM)', 143));
  process.on('uncaughtException', abort('uncaught exception', 1));
  process.on('unhandledRejection', abort('unhandled rejection', 1));
}

/** Highest VmHWM seen per process over its whole life (peaks are reset per phase). */
export const lifetimePeak: Record<string, number | undefined> = {};

export function notePeak(app: AppProcess): void {
  const s = sampleProcess(app.pid);
  if (s && Number.isFinite(s.peakRssBytes)) lifetimePeak[app.name] = Math.max(lifetimePeak[app.name] ?? 0, s.peakRssBytes);
}

/** Runs one load phase and adds the server process's CPU time and peak RSS during it. */
export async function measured(app: AppProcess, run: () => Promise<PhaseResult>): Promise<PhaseReport> {
  notePeak(app);
  const peakReset = resetPeak(app.pid);
  const before = sampleProcess(app.pid);
  const result = await run();
  const after = sampleProcess(app.pid);
  notePeak(app);
  if (app.exited()) throw new Error(`${app.name} exited during "${result.title}":\n${app.output()}`);
  return {
    ...result,
    server: app.name as PhaseReport['server'],
    serverCpuMs: before && after ? after.cpuMs - before.cpuMs : undefined,
    serverPeakRssBytes: after ? (peakReset ? after.peakRssBytes : lifetimePeak[app.name]) : undefined,
  };
}

/** Runs one load phase served by several processes and adds each one's CPU time and peak RSS during it. */
export async function measuredAll<T extends PhaseResult>(apps: readonly AppProcess[], run: () => Promise<T>): Promise<T & { processes: ProcessUsage[]; server: string; serverCpuMs: number | undefined; serverPeakRssBytes: number | undefined }> {
  const before = apps.map((app) => {
    notePeak(app);
    return { app, peakReset: resetPeak(app.pid), sample: sampleProcess(app.pid) };
  });
  const result = await run();
  const processes = before.map(({ app, peakReset, sample }): ProcessUsage => {
    const after = sampleProcess(app.pid);
    notePeak(app);
    if (app.exited()) throw new Error(`${app.name} exited during "${result.title}":\n${app.output()}`);
    return { name: app.name, cpuMs: sample && after ? after.cpuMs - sample.cpuMs : undefined, peakRssBytes: after ? (peakReset ? after.peakRssBytes : lifetimePeak[app.name]) : undefined };
  });
  const cpu = processes.every((u) => u.cpuMs !== undefined) ? processes.reduce((a, u) => a + u.cpuMs!, 0) : undefined;
  return { ...result, processes, server: apps.map((a) => a.name).join(' + '), serverCpuMs: cpu, serverPeakRssBytes: undefined };
}

/** Runs a round-trip phase on several processes and adds the CPU of the bench database's PostgreSQL backends and of Redis. */
export async function measuredWithStores<T extends PhaseResult>(ctx: BenchContext, apps: readonly AppProcess[], run: () => Promise<T>) {
  const storesBefore = await sampleStoreCpu(ctx.options.adminDatabaseUrl, ctx.dbName, ctx.options.redisUrl);
  const measuredRun = await measuredAll(apps, run);
  const storeCpu = storeCpuBetween(storesBefore, await sampleStoreCpu(ctx.options.adminDatabaseUrl, ctx.dbName, ctx.options.redisUrl));
  const storeUsage: ProcessUsage[] = [
    { name: 'PostgreSQL backends of the bench database', cpuMs: storeCpu.postgresMs, peakRssBytes: undefined },
    { name: 'Redis server (the whole process)', cpuMs: storeCpu.redisMs, peakRssBytes: undefined },
  ].filter((u) => u.cpuMs !== undefined);
  return { ...measuredRun, storeUsage };
}

export function describePhase(p: PhaseReport): string {
  const l = p.latency;
  let tail = p.non2xx + p.errors > 0 ? `, non-2xx ${fmt(p.non2xx)}, errors ${fmt(p.errors)}` : '';
  if (p.largestBurst10ms !== undefined && p.offeredRate !== undefined) tail += ` (largest 10 ms send burst ${p.largestBurst10ms}, even pacing ${Math.ceil(p.offeredRate / 100)})`;
  return `${p.title}: ${fmt(p.completed)} in ${p.seconds.toFixed(1)} s = ${fmt(p.rps)} req/s, p50 ${l.p50.toFixed(2)} / p90 ${l.p90.toFixed(2)} / p99 ${l.p99.toFixed(2)} ms${tail}`;
}

/** Failure reasons of a phase: too many non-2xx/errors, or 2xx bodies that are not what the endpoint answers. */
export function checkPhase(p: PhaseReport, expectInBody: (body: Record<string, unknown>) => boolean): string[] {
  const problems: string[] = [];
  if (p.completed === 0) problems.push(`${p.title}: no response at all`);
  const ratio = failureRatio(p);
  if (ratio > MAX_FAILURE_RATIO) {
    const codes = [...p.statuses].filter(([s]) => s < 200 || s >= 300).map(([s, c]) => `${s}×${c}`).join(', ');
    const samples = [...p.samples].filter(([s]) => s < 200 || s >= 300).map(([s, b]) => `  ${s}: ${b[0].slice(0, 500)}`).join('\n');
    problems.push(`${p.title}: ${(ratio * 100).toFixed(2)} % of requests failed (non-2xx ${p.non2xx}: ${codes || '-'}; connection errors ${p.errors}, timeouts ${p.timeouts})${samples ? `\n${samples}` : ''}`);
  }
  // The first 2xx body (200 for most endpoints, 201 for /par).
  const ok = [...p.samples].find(([s]) => s >= 200 && s < 300)?.[1][0];
  if (ok !== undefined) {
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(ok) as Record<string, unknown>;
    } catch {
      /* checked below */
    }
    if (!expectInBody(body)) problems.push(`${p.title}: a 2xx response is not what the endpoint should answer: ${ok.slice(0, 500)}`);
  }
  if (p.feedExhausted > 0) problems.push(`${p.title}: ran out of pre-signed requests (${p.feedExhausted} re-sent)`);
  return problems;
}

export const isTokenResponse = (b: Record<string, unknown>): boolean => typeof b.access_token === 'string' && b.token_type === 'DPoP' && typeof b.refresh_token === 'string';
export const isRegistrationResponse = (b: Record<string, unknown>): boolean => typeof b.auth_session === 'string' && b.token_type === 'fp+jwt';

/** One log line of a round-trip phase: the whole round trip, each step, and `extra` (ending in ", "). */
export function describeRoundTrips(c: ClosedLoopResult<string>, extra = ''): string {
  const steps = Object.entries(c.steps).map(([name, s]) => `${name} p50 ${s.latency.p50.toFixed(1)} / p99 ${s.latency.p99.toFixed(1)}`);
  return `${describePhase(c as unknown as PhaseReport).replace(' req/s', ' round trips/s')}; ${steps.join(', ')} ms; ${extra}emails ${fmt(c.emailsReceived)}, bench-process CPU ${(c.clientCpuMs / 1000 / c.seconds).toFixed(2)} cores`;
}

export const describeChallenge = (c: ChallengeRunResult): string => describeRoundTrips(c, `nonce retries ${c.nonceRetries}, `);

/** Failure reasons of a round-trip phase: more than 0.5 % of its round trips met an unexpected answer or none. */
export function checkRoundTrips(c: ClosedLoopResult<string>): string[] {
  if (c.completed === 0) return [`${c.title}: no round trip completed${firstUnexpected(c)}`];
  const failed = c.roundsStarted - c.completed;
  if (failed / Math.max(1, c.roundsStarted) <= MAX_FAILURE_RATIO) return [];
  return [`${c.title}: ${failed} of ${c.roundsStarted} round trips (${((failed / c.roundsStarted) * 100).toFixed(2)} %) failed${firstUnexpected(c)}`];
}

function firstUnexpected(c: ClosedLoopResult<string>): string {
  return [...c.unexpected].map(([key, n]) => `\n  ${key} ×${n}: ${(c.unexpectedSamples.get(key)?.[0] ?? '').slice(0, 500)}`).join('');
}
