import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { summarize, type LatencySummary, type PhaseResult } from './load';
import type { CodeSink } from './smtp-sink';

/**
 * The closed loop under the round-trip drivers (the challenge and the browser login): N workers,
 * each with one round trip in flight, take the next prepared round until all are used or the time
 * bound passes. A round trip either completes — its steps' latencies are kept — or stops at its
 * first unexpected answer (a StepFailure), which is counted and sampled.
 */

export interface StepStats {
  readonly completed: number;
  readonly latency: LatencySummary;
}

/** The first unexpected answer of a round trip: `key` is "step status" (e.g. `answer 400`) or "step timeout". */
export class StepFailure extends Error {
  constructor(
    readonly key: string,
    readonly body: string,
    readonly connection: boolean,
  ) {
    super(key);
  }
}

/** Awaits one request of a round; a connection error or timeout becomes the step's failure. */
export async function stepRequest<T>(name: string, request: Promise<T>): Promise<T> {
  try {
    return await request;
  } catch (e) {
    throw new StepFailure(`${name} ${/timeout/.test((e as Error).message) ? 'timeout' : 'connection error'}`, (e as Error).message, true);
  }
}

/** An answer that is not the expected one. */
export function unexpected(key: string, body: string): never {
  throw new StepFailure(key, body, false);
}

/** What a completed round trip took: each step (ms), and the body of its last answer (kept once, as the 2xx sample). */
export interface RoundTiming<S extends string> {
  readonly steps: Readonly<Record<S, number>>;
  readonly total: number;
  readonly lastBody: string;
}

export interface ClosedLoopSpec<R, S extends string> {
  readonly title: string;
  readonly steps: readonly S[];
  readonly rounds: readonly R[];
  readonly concurrency: number;
  /** No round starts after this (epoch ms); rounds in flight finish. */
  readonly stopAt: number;
  readonly sink: CodeSink;
  /** The address a round's code is sent to (dropped from the sink when the round fails). */
  readonly emailOf: (round: R) => string;
  readonly runRound: (round: R) => Promise<RoundTiming<S>>;
}

export interface ClosedLoopResult<S extends string> extends PhaseResult {
  /** Per step; a step that waits for an email runs until the code is in hand. */
  readonly steps: Readonly<Record<S, StepStats>>;
  readonly roundsStarted: number;
  /** Unexpected answers per "step status" (e.g. `answer 400`), and up to three bodies of each. */
  readonly unexpected: ReadonlyMap<string, number>;
  readonly unexpectedSamples: ReadonlyMap<string, string[]>;
  readonly emailsReceived: number;
  /** CPU time of the bench process (driver, proofs signed live, SMTP sink) during the phase, ms. */
  readonly clientCpuMs: number;
  /** Event-loop delay of the bench process during the phase, ms (a busy client would queue its own work). */
  readonly clientLoopDelayP99Ms: number;
}

/**
 * A keep-alive node:http agent for a driver, not fetch: on the 2-core VM fetch cost about five times
 * the client CPU per request, CPU the servers need. It pools per server; a worker has one request in flight.
 */
export const keepAliveAgent = (concurrency: number): http.Agent => new http.Agent({ keepAlive: true, maxSockets: concurrency });

export async function runClosedLoop<R, S extends string>(spec: ClosedLoopSpec<R, S>): Promise<ClosedLoopResult<S>> {
  const latencies = new Map<S | '', number[]>([...spec.steps, ''].map((s) => [s as S | '', []]));
  const unexpectedCounts = new Map<string, number>();
  const unexpectedSamples = new Map<string, string[]>();
  const statuses = new Map<number, number>();
  const samples = new Map<number, string[]>();
  let non2xx = 0;
  let errors = 0;
  let timeouts = 0;
  let completed = 0;
  let next = 0;
  let lastDoneMs = 0;

  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const emailsBefore = spec.sink.received;
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const worker = async (): Promise<void> => {
    while (next < spec.rounds.length && Date.now() < spec.stopAt) {
      const round = spec.rounds[next++];
      try {
        const t = await spec.runRound(round);
        for (const s of spec.steps) latencies.get(s)!.push(t.steps[s]);
        latencies.get('')!.push(t.total);
        completed++;
        lastDoneMs = performance.now();
        if (samples.size === 0) samples.set(200, [t.lastBody.slice(0, 2000)]);
      } catch (e) {
        if (!(e instanceof StepFailure)) throw e;
        spec.sink.forget(spec.emailOf(round));
        unexpectedCounts.set(e.key, (unexpectedCounts.get(e.key) ?? 0) + 1);
        const list = unexpectedSamples.get(e.key) ?? [];
        if (list.length < 3) unexpectedSamples.set(e.key, [...list, e.body.slice(0, 2000)]);
        if (e.connection) {
          errors++;
          if (e.key.endsWith('timeout')) timeouts++;
        } else {
          non2xx++;
          const status = Number(/ (\d{3})$/.exec(e.key)?.[1] ?? 0);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          const s = samples.get(status) ?? [];
          if (s.length < 3) samples.set(status, [...s, `${e.key}: ${e.body.slice(0, 2000)}`]);
        }
        lastDoneMs = performance.now();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(spec.concurrency, spec.rounds.length) }, worker));
  const cpu = process.cpuUsage(cpuBefore);
  loopDelay.disable();

  const seconds = Math.max(1e-3, ((lastDoneMs || performance.now()) - start) / 1000);
  if (completed > 0) statuses.set(200, completed);
  const steps = Object.fromEntries(spec.steps.map((s) => [s, { completed: latencies.get(s)!.length, latency: summarize(latencies.get(s)!) }])) as Record<S, StepStats>;
  return {
    title: spec.title,
    connections: spec.concurrency,
    offeredRate: undefined,
    planned: spec.rounds.length,
    completed,
    seconds,
    rps: completed / seconds,
    latency: summarize(latencies.get('')!),
    non2xx,
    errors,
    timeouts,
    statuses,
    samples,
    timeBound: next < spec.rounds.length,
    feedExhausted: 0,
    steps,
    roundsStarted: next,
    unexpected: unexpectedCounts,
    unexpectedSamples,
    emailsReceived: spec.sink.received - emailsBefore,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
    clientLoopDelayP99Ms: loopDelay.percentile(99) / 1e6,
  };
}
