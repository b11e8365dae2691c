import http from 'node:http';
import autocannon from 'autocannon';
import type { PreparedRequest } from './device-flow';
import { sleep } from '@fpa/testing';

/**
 * Hands out prebuilt requests, each once, to every connection of every autocannon instance of a
 * phase. (A plain `requests` array would not do: autocannon cycles each connection through the
 * whole array, so with N connections every body would be sent N times — replays.)
 */
export class RequestFeed {
  private next = 0;
  /** Requests asked for after the feed ran dry (each then re-sends the last one, and is refused). */
  exhausted = 0;
  /** When each item was taken: autocannon builds a request right before writing it, so ≈ send time. */
  readonly takenAt: Float64Array;

  constructor(private readonly items: readonly PreparedRequest[]) {
    if (items.length === 0) throw new Error('empty request feed');
    this.takenAt = new Float64Array(items.length);
  }

  take(): PreparedRequest {
    if (this.next < this.items.length) {
      this.takenAt[this.next] = performance.now();
      return this.items[this.next++];
    }
    this.exhausted++;
    return this.items[this.items.length - 1];
  }

  /** The most requests sent within one 10 ms slot (how evenly the load was offered). */
  largestBurst10ms(): number {
    const counts = new Map<number, number>();
    let max = 0;
    for (let i = 0; i < this.next; i++) {
      const slot = Math.floor(this.takenAt[i] / 10);
      const c = (counts.get(slot) ?? 0) + 1;
      counts.set(slot, c);
      if (c > max) max = c;
    }
    return max;
  }

  get used(): number {
    return this.next;
  }
}

/** Latencies (ms, sub-ms precision from autocannon's hrtime) and status codes of every response. */
export class Recorder {
  private latencies: Float64Array;
  private n = 0;
  readonly statuses = new Map<number, number>();
  /** Up to a few response bodies per status, for failure reports and a sanity check of the 2xx ones. */
  readonly samples = new Map<number, string[]>();
  firstSendMs = 0;
  lastResponseMs = 0;

  constructor(expected: number) {
    this.latencies = new Float64Array(Math.max(1024, expected));
  }

  record(status: number, latencyMs: number): void {
    if (this.n === this.latencies.length) {
      const bigger = new Float64Array(this.latencies.length * 2);
      bigger.set(this.latencies);
      this.latencies = bigger;
    }
    this.latencies[this.n++] = latencyMs;
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    this.lastResponseMs = performance.now();
  }

  sample(status: number, body: string): void {
    const list = this.samples.get(status) ?? [];
    if (list.length < 3) {
      list.push(body.slice(0, 8192));
      this.samples.set(status, list);
    }
  }

  get count(): number {
    return this.n;
  }

  /** Nearest-rank percentiles. */
  summary(): LatencySummary {
    return summarize(this.latencies.subarray(0, this.n));
  }
}

export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

export function summarize(values: Float64Array | readonly number[]): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) return { p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
  const at = (p: number): number => sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))];
  let sum = 0;
  for (const v of sorted) sum += v;
  return { p50: at(50), p90: at(90), p99: at(99), max: sorted[n - 1], mean: sum / n };
}

export interface PhaseResult {
  readonly title: string;
  readonly connections: number;
  /** Offered rate (req/s) of a paced phase; undefined = as fast as the server answers. */
  readonly offeredRate: number | undefined;
  readonly planned: number;
  readonly completed: number;
  /** Wall time from the first request sent to the last response, s. */
  readonly seconds: number;
  readonly rps: number;
  readonly latency: LatencySummary;
  /** autocannon's count of non-2xx responses. */
  readonly non2xx: number;
  /** Connection errors and timeouts (autocannon `errors`, which includes `timeouts`). */
  readonly errors: number;
  readonly timeouts: number;
  readonly statuses: ReadonlyMap<number, number>;
  readonly samples: ReadonlyMap<number, string[]>;
  /** The phase hit its time bound before `planned` requests completed. */
  readonly timeBound: boolean;
  readonly feedExhausted: number;
  /** Paced phases: the most requests sent within one 10 ms slot (even pacing: rate / 100). */
  readonly largestBurst10ms?: number;
}

interface RunSpec {
  readonly url: string;
  readonly path: string;
  readonly connections: number;
  readonly amount: number;
  /** autocannon overallRate for this instance (paced streams), else unlimited. */
  readonly overallRate?: number;
}

/** One autocannon instance over the shared feed; resolves with its result. */
function runInstance(spec: RunSpec, feed: RequestFeed, rec: Recorder, stopAt: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    // The callback can run synchronously (invalid options), before the stop timer exists.
    const state: { settled: boolean; timer?: NodeJS.Timeout } = { settled: false };
    const paced = spec.overallRate !== undefined;
    const instance = autocannon(
      {
        url: spec.url,
        connections: spec.connections,
        amount: spec.amount,
        // Raw latencies when paced: autocannon's coordinated-omission correction takes 1/rate in
        // *seconds* as the expected interval in ms, which would add ~one synthetic sample per ms of latency.
        ...(paced ? { overallRate: spec.overallRate, ignoreCoordinatedOmission: true } : {}),
        timeout: 10,
        requests: [
          {
            method: 'POST',
            path: spec.path,
            setupRequest: (req) => {
              const next = feed.take();
              return { ...req, method: 'POST', path: spec.path, headers: next.headers, body: next.body };
            },
            onResponse: (status, body) => rec.sample(status, body),
          },
        ],
      },
      (err: unknown, result: autocannon.Result) => {
        state.settled = true;
        clearTimeout(state.timer);
        if (err) reject(err instanceof Error ? err : new Error(String(err)));
        else resolve(result);
      },
    );
    if (state.settled) return;
    instance.on('response', (_client, status: number, _bytes: number, latencyMs: number) => rec.record(status, latencyMs));
    state.timer = setTimeout(() => instance.stop(), Math.max(0, stopAt - Date.now()));
  });
}

function phaseResult(title: string, connections: number, offeredRate: number | undefined, planned: number, results: autocannon.Result[], rec: Recorder, feed: RequestFeed): PhaseResult {
  const seconds = Math.max(1e-3, (rec.lastResponseMs - rec.firstSendMs) / 1000);
  const sum = (f: (r: autocannon.Result) => number): number => results.reduce((a, r) => a + f(r), 0);
  return {
    title,
    connections,
    offeredRate,
    planned,
    completed: rec.count,
    seconds,
    rps: rec.count / seconds,
    latency: rec.summary(),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    statuses: rec.statuses,
    samples: rec.samples,
    timeBound: rec.count < planned,
    feedExhausted: feed.exhausted,
  };
}

/** Closed loop: `connections` connections send `amount` requests as fast as the server answers. */
export async function runMaxThroughput(title: string, url: string, path: string, requests: readonly PreparedRequest[], connections: number, amount: number, stopAt: number): Promise<PhaseResult> {
  const feed = new RequestFeed(requests);
  const rec = new Recorder(amount);
  rec.firstSendMs = performance.now();
  const result = await runInstance({ url, path, connections, amount }, feed, rec, stopAt);
  return phaseResult(title, connections, undefined, amount, [result], rec, feed);
}

/** Above this, a paced connection sends more than one request per second. */
const MAX_PACED_CONNECTIONS = 1_000;
const MAX_STREAMS = 100;

/**
 * Open loop at a fixed offered rate. autocannon's `overallRate` alone releases each second's
 * quota as one burst (every connection's rate window starts at the same instant, and a connection
 * sends its quota back to back), so the latency would depend on the connection count rather than
 * the rate. Here the rate is split over `streams` autocannon instances started evenly across the
 * first second, each with `overallRate` = its share at one request per connection per second:
 * at 1,000 req/s that is 100 instances × 10 connections, a burst of 10 every 10 ms.
 */
export async function runFixedRate(title: string, url: string, path: string, requests: readonly PreparedRequest[], rate: number, seconds: number, stopAt: number): Promise<PhaseResult> {
  const perConnection = Math.max(1, Math.ceil(rate / MAX_PACED_CONNECTIONS));
  const streams = Math.min(MAX_STREAMS, Math.ceil(rate / perConnection));
  const share = (i: number): number => Math.floor(rate / streams) + (i < rate % streams ? 1 : 0);
  const feed = new RequestFeed(requests);
  const rec = new Recorder(rate * seconds);
  rec.firstSendMs = performance.now();
  let connections = 0;
  const runs: Promise<autocannon.Result>[] = [];
  for (let i = 0; i < streams; i++) {
    const streamRate = share(i);
    const streamConnections = Math.ceil(streamRate / perConnection);
    connections += streamConnections;
    const startAt = rec.firstSendMs + (i * 1000) / streams;
    const delay = startAt - performance.now();
    if (delay > 0) await sleep(delay);
    runs.push(runInstance({ url, path, connections: streamConnections, amount: streamRate * seconds, overallRate: streamRate }, feed, rec, stopAt));
  }
  const results = await Promise.all(runs);
  return { ...phaseResult(title, connections, rate, rate * seconds, results, rec, feed), largestBurst10ms: feed.largestBurst10ms() };
}

/**
 * Open loop at a fixed offered rate with a light client: `connections` keep-alive sockets, and a
 * 1 ms scheduler that sends request i at start + i / rate whether or not earlier ones answered.
 * Latency is measured from each request's *scheduled* send time, so a server that falls behind
 * is charged for the queueing it causes (no coordinated omission). Unlike 1,000 autocannon
 * connections, this costs the shared machine little, so the server gets the cores.
 */
export async function runPaced(title: string, url: string, path: string, requests: readonly PreparedRequest[], rate: number, seconds: number, stopAt: number, connections: number): Promise<PhaseResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const feed = new RequestFeed(requests);
  const total = Math.min(rate * seconds, requests.length);
  const rec = new Recorder(total);
  const target = new URL(path, url);
  let errors = 0;
  let non2xx = 0;
  let inflight = 0;
  let sent = 0;
  const start = performance.now();
  rec.firstSendMs = start;
  await new Promise<void>((resolve) => {
    let stopped = false;
    const maybeDone = (): void => {
      if ((sent >= total || stopped) && inflight === 0) resolve();
    };
    const sendOne = (scheduled: number): void => {
      inflight++;
      const next = feed.take();
      const req = http.request(target, { method: 'POST', agent, headers: next.headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) non2xx++;
          rec.record(status, performance.now() - scheduled);
          rec.sample(status, body);
          inflight--;
          maybeDone();
        });
      });
      req.on('error', () => {
        errors++;
        inflight--;
        maybeDone();
      });
      req.end(next.body);
    };
    const tick = (): void => {
      if (Date.now() >= stopAt) stopped = true;
      const due = stopped ? sent : Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
      while (sent < due) sendOne(start + (sent++ * 1000) / rate);
      if (sent < total && !stopped) setTimeout(tick, 1);
      else maybeDone();
    };
    tick();
  });
  agent.destroy();
  return {
    title,
    connections,
    offeredRate: rate,
    planned: total,
    completed: rec.count,
    seconds: Math.max(1e-3, (rec.lastResponseMs - rec.firstSendMs) / 1000),
    rps: rec.count / Math.max(1e-3, (rec.lastResponseMs - rec.firstSendMs) / 1000),
    latency: rec.summary(),
    non2xx,
    errors,
    timeouts: 0,
    statuses: rec.statuses,
    samples: rec.samples,
    timeBound: rec.count < total,
    feedExhausted: feed.exhausted,
    largestBurst10ms: feed.largestBurst10ms(),
  };
}
