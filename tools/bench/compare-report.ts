import type { ComparisonId } from './compare-options';
import { MARKER, type MachineInfo } from './report';
import { int, mib, ms } from './round-trip-report';

/**
 * The pure half of `npm run bench:compare` (issue 13): per-round figures of each server, the
 * ratios of each A/B pair (ours ÷ theirs), their median, and the "Comparison with
 * node-oidc-provider" section of docs/benchmarks.md, which lives between its own markers above
 * `npm run bench`'s marker so that each tool replaces only its own part.
 */

export const COMPARE_START = '<!-- bench:compare -->';
export const COMPARE_END = '<!-- /bench:compare -->';

/** What one server did in one measured round. */
export interface ServerRound {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly completed: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly seconds: number;
  readonly timeBound: boolean;
  /** User + system CPU of the server process during the round, ms. */
  readonly serverCpuMs: number | undefined;
  /** The bench database's PostgreSQL backends (ours only), ms. */
  readonly postgresCpuMs: number | undefined;
  /** The whole Redis server process (ours only; other users of that Redis count too), ms. */
  readonly redisCpuMs: number | undefined;
  /** VmHWM of the server process during the round (reset before it), bytes. */
  readonly peakRssBytes: number | undefined;
  /** CPU the rest of the machine used meanwhile (all CPUs busy − server − stores − load driver), cores. */
  readonly otherCores: number | undefined;
}

export interface RoundPair {
  readonly ours: ServerRound;
  readonly theirs: ServerRound;
}

/** The fixed-rate round after the closed-loop rounds: the same offered rate for both servers. */
export interface PacedComparison {
  /** Offered rate, req/s: `percent` % of our median closed-loop throughput. */
  readonly offeredRate: number;
  readonly percent: number;
  readonly seconds: number;
  readonly ours: ServerRound;
  readonly theirs: ServerRound;
}

export interface ComparisonResult {
  readonly id: ComparisonId;
  readonly title: string;
  /** What each side is asked to do, one sentence each. */
  readonly oursDoes: string;
  readonly theirsDoes: string;
  readonly pairs: readonly RoundPair[];
  /** Absent when the run had no fixed-rate round (`--paced-seconds 0`). */
  readonly paced?: PacedComparison;
}

/** Issue 13 goal 2: our p99 at 80 % of our saturation rate. */
export const P99_GOAL_MS = 50;

/** The offered rate of the fixed-rate round (pure): `percent` % of our median req/s over the rounds, at least 1. */
export function pacedRate(pairs: readonly RoundPair[], percent: number): number {
  const saturation = median(pairs.map((p) => p.ours.rps));
  return Number.isFinite(saturation) ? Math.max(1, Math.round((saturation * percent) / 100)) : 1;
}

/** Median of the finite values (mean of the middle two for an even count); NaN when there is none. */
export function median(values: readonly (number | undefined)[]): number {
  const v = values.filter((x): x is number => x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** a ÷ b, or undefined when either is missing or b is not positive. */
export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b <= 0) return undefined;
  return a / b;
}

const perRequest = (cpuMs: number | undefined, r: ServerRound): number | undefined => (cpuMs === undefined || r.completed === 0 ? undefined : cpuMs / r.completed);

/** CPU per request of the server and of the stores it needs (a missing store reading counts as none). */
const totalPerRequest = (r: ServerRound): number | undefined => (r.serverCpuMs === undefined ? undefined : perRequest(r.serverCpuMs + (r.postgresCpuMs ?? 0) + (r.redisCpuMs ?? 0), r));

/** The figures compared, each read from one round of one server. */
export const METRICS = [
  { name: 'requests/s', get: (r: ServerRound) => r.rps, fmt: int },
  { name: 'p50 (ms)', get: (r: ServerRound) => r.p50, fmt: ms },
  { name: 'p99 (ms)', get: (r: ServerRound) => r.p99, fmt: ms },
  { name: 'CPU / request, server process (ms)', get: (r: ServerRound) => perRequest(r.serverCpuMs, r), fmt: (v: number) => v.toFixed(2) },
  { name: 'CPU / request, PostgreSQL backends (ms)', get: (r: ServerRound) => perRequest(r.postgresCpuMs, r), fmt: (v: number) => v.toFixed(2) },
  { name: 'CPU / request, Redis (ms)', get: (r: ServerRound) => perRequest(r.redisCpuMs, r), fmt: (v: number) => v.toFixed(2) },
  { name: 'CPU / request, server + its stores (ms)', get: totalPerRequest, fmt: (v: number) => v.toFixed(2) },
  { name: 'peak RSS, server process (MiB)', get: (r: ServerRound) => r.peakRssBytes, fmt: (v: number) => mib(v) },
] as const;

export interface SummaryRow {
  readonly metric: string;
  readonly ours: number;
  readonly theirs: number;
  /** Median over the rounds of (ours ÷ theirs) of the same pair; NaN when no pair has both. */
  readonly medianRatio: number;
}

/** Each metric: both sides' medians and the median of the per-round ratios (pure). */
export function summarize(pairs: readonly RoundPair[]): SummaryRow[] {
  return METRICS.map((m) => ({
    metric: m.name,
    ours: median(pairs.map((p) => m.get(p.ours))),
    theirs: median(pairs.map((p) => m.get(p.theirs))),
    medianRatio: median(pairs.map((p) => ratio(m.get(p.ours), m.get(p.theirs)))),
  }));
}

/** The worst failure ratio of any round, (non-2xx + connection errors) ÷ answered. */
export function worstFailureRatio(pairs: readonly RoundPair[], paced?: PacedComparison): number {
  let worst = 0;
  for (const p of paced ? [...pairs, paced] : pairs) {
    for (const r of [p.ours, p.theirs]) {
      const answered = r.completed + r.errors;
      worst = Math.max(worst, answered === 0 ? 1 : (r.non2xx + r.errors) / answered);
    }
  }
  return worst;
}

const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
/** A figure, or – when it is missing. */
export const show = (v: number | undefined, f: (v: number) => string): string => (v === undefined || !Number.isFinite(v) ? '–' : f(v));

function summaryTable(c: ComparisonResult): string[] {
  const rows = summarize(c.pairs);
  return [
    line(['', 'first-party-auth (median)', 'node-oidc-provider (median)', 'ratio ours ÷ theirs (median of per-round ratios)']),
    line(['---', '---:', '---:', '---:']),
    ...rows.map((r, i) => line([r.metric, show(r.ours, METRICS[i].fmt), show(r.theirs, METRICS[i].fmt), show(r.medianRatio, (v) => v.toFixed(2))])),
  ];
}

function roundsTable(c: ComparisonResult): string[] {
  const head = ['Round', 'Server', 'Completed', 'req/s', 'p50 (ms)', 'p99 (ms)', 'CPU / req server (ms)', 'CPU / req PostgreSQL (ms)', 'CPU / req Redis (ms)', 'Peak RSS (MiB)', 'non-2xx', 'Rest of the machine (cores)'];
  const row = (label: string, server: string, r: ServerRound): string =>
    line([
      label,
      server,
      `${int(r.completed)}${r.timeBound ? ' (time bound)' : ''}`,
      int(r.rps),
      ms(r.p50),
      ms(r.p99),
      show(perRequest(r.serverCpuMs, r), (v) => v.toFixed(2)),
      show(perRequest(r.postgresCpuMs, r), (v) => v.toFixed(2)),
      show(perRequest(r.redisCpuMs, r), (v) => v.toFixed(2)),
      show(r.peakRssBytes, mib),
      int(r.non2xx + r.errors),
      show(r.otherCores, (v) => v.toFixed(2)),
    ]);
  const out = [line(head), line(head.map((_, i) => (i < 2 ? '---' : '---:')))];
  c.pairs.forEach((p, i) => {
    out.push(row(`${i + 1} A`, 'first-party-auth', p.ours), row(`${i + 1} B`, 'node-oidc-provider', p.theirs));
  });
  return out;
}

function pacedTable(p: PacedComparison): string[] {
  const head = ['Server', 'Offered req/s', 'Achieved req/s', 'p50 (ms)', 'p99 (ms)', 'CPU / req server (ms)', 'CPU / req server + stores (ms)', 'Peak RSS (MiB)', 'non-2xx', 'Rest of the machine (cores)'];
  const row = (server: string, r: ServerRound): string =>
    line([
      server,
      int(p.offeredRate),
      `${int(r.rps)}${r.timeBound ? ' (time bound)' : ''}`,
      ms(r.p50),
      ms(r.p99),
      show(perRequest(r.serverCpuMs, r), (v) => v.toFixed(2)),
      show(totalPerRequest(r), (v) => v.toFixed(2)),
      show(r.peakRssBytes, mib),
      int(r.non2xx + r.errors),
      show(r.otherCores, (v) => v.toFixed(2)),
    ]);
  const met = p.ours.p99 <= P99_GOAL_MS;
  return [
    `#### Fixed rate: ${int(p.offeredRate)} req/s (${p.percent} % of our median throughput above) for ${p.seconds} s, both servers`,
    '',
    line(head),
    line(head.map((_, i) => (i < 1 ? '---' : '---:'))),
    row('first-party-auth', p.ours),
    row('node-oidc-provider', p.theirs),
    '',
    `Issue 13 goal 2 (p99 ≤ ${P99_GOAL_MS} ms at ${p.percent} % of our saturation rate): ${met ? 'met' : 'not met'} in this run (p99 ${ms(p.ours.p99)} ms). Latency is from each request's scheduled send time, so queueing behind a slow answer counts.`,
  ];
}

export interface CompareReportInput {
  readonly date: Date;
  readonly commit: string;
  readonly machine: MachineInfo;
  /** os.loadavg() when the run started and when it ended. */
  readonly loadStart: readonly number[];
  readonly loadEnd: readonly number[];
  readonly comparisons: readonly ComparisonResult[];
  /** Options that differ from a default run (nonDefaults()). */
  readonly nonDefaults: readonly string[];
  readonly settings: readonly string[];
}

const loads = (l: readonly number[]): string => l.map((x) => x.toFixed(2)).join(', ');

/** Whether the machine was busy with other work (1-minute load above a quarter of the CPUs). */
export const machineWasBusy = (r: Pick<CompareReportInput, 'machine' | 'loadStart' | 'loadEnd'>): boolean =>
  Math.max(r.loadStart[0] ?? 0, r.loadEnd[0] ?? 0) > r.machine.nproc * 0.25;

/** The whole section, heading included (pure). */
export function renderComparison(r: CompareReportInput): string {
  const out: string[] = ['## Comparison with node-oidc-provider', ''];
  out.push(`Generated by \`npm run bench:compare\` on ${r.date.toISOString()}, commit \`${r.commit}\`; replaced by each run. Both servers, PostgreSQL, Redis and the load driver share this machine's ${r.machine.nproc} CPUs.`, '');
  if (machineWasBusy(r)) {
    out.push(
      `> **Noisy figures.** The 1-minute load average was ${r.loadStart[0]?.toFixed(2)} when the run started and ${r.loadEnd[0]?.toFixed(2)} when it ended, on ${r.machine.nproc} CPUs: other work was running on this machine (see "Rest of the machine" per round), so both servers' figures are understated and the ratios are rough. Repeat on an idle machine before drawing conclusions.`,
      '',
    );
  }
  if (r.nonDefaults.length > 0) out.push(`> Not the default run: ${r.nonDefaults.join(', ')}.`, '');
  out.push(
    'Ratios are ours ÷ theirs: above 1 means first-party-auth serves more requests per second, below 1 that it needs less time, CPU or memory. Each measured round of ours (A) is followed by one of node-oidc-provider (B); a ratio is taken per A/B pair and the median of those ratios is shown. node-oidc-provider keeps everything in process memory, so it has no store CPU; ours pays PostgreSQL and Redis for what it keeps.',
    '',
  );
  for (const c of r.comparisons) {
    out.push(`### ${c.title}`, '', `- first-party-auth: ${c.oursDoes}`, `- node-oidc-provider: ${c.theirsDoes}`, '');
    out.push(...summaryTable(c), '', ...roundsTable(c), '');
    if (c.paced) out.push(...pacedTable(c.paced), '');
    out.push(`Refused or failed requests: at most ${(worstFailureRatio(c.pairs, c.paced) * 100).toFixed(2)} % in any round (the run fails above 0.5 %).`, '');
  }
  out.push('### Machine (comparison run)', '');
  out.push(`- CPU: ${r.machine.cpuModel} — nproc ${r.machine.nproc}; memory ${(r.machine.memTotalBytes / 1024 ** 3).toFixed(1)} GiB`);
  out.push(`- Node.js ${r.machine.node} on ${r.machine.os}`);
  out.push(`- Load average (1, 5, 15 min) at the start: ${loads(r.loadStart)}; at the end: ${loads(r.loadEnd)}`, '');
  out.push('### Settings (comparison run)', '');
  for (const s of r.settings) out.push(`- ${s}`);
  out.push('');
  return out.join('\n');
}

/**
 * Puts the section into docs/benchmarks.md (pure): in place of the previous one between the
 * compare markers; else just above `npm run bench`'s marker (whose tool keeps everything above
 * it); else at the end. Nothing outside the markers changes.
 */
export function mergeComparison(existing: string | undefined, section: string): string {
  const block = `${COMPARE_START}\n\n${section.trim()}\n\n${COMPARE_END}`;
  if (existing === undefined) return `# Benchmarks\n\n${block}\n`;
  const start = existing.indexOf(COMPARE_START);
  const end = existing.indexOf(COMPARE_END);
  if (start >= 0 && end > start) return `${existing.slice(0, start)}${block}${existing.slice(end + COMPARE_END.length)}`;
  if (start >= 0 || end >= 0) throw new Error(`docs/benchmarks.md has a broken comparison section (${COMPARE_START} … ${COMPARE_END}); fix it by hand`);
  const marker = existing.indexOf(MARKER);
  if (marker >= 0) return `${existing.slice(0, marker)}${block}\n\n${existing.slice(marker)}`;
  return `${existing.trimEnd()}\n\n${block}\n`;
}
