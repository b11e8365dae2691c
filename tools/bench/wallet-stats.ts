import type { LatencySummary, PhaseResult } from './load';
import { MARKER, type MachineInfo } from './report';

/**
 * The pure parts of the digital-credential phases (issue 11): what a poll may answer, when each wallet
 * answers, CPU per item, and the "Digital credentials" section of docs/benchmarks.md, which lives between
 * its own markers so that a `BENCH_ONLY=wallet` run replaces only it.
 */

export const WALLET_START = '<!-- bench:wallet -->';
export const WALLET_END = '<!-- /bench:wallet -->';

/** The only non-2xx a poll may get (WALLET-2): 403 insufficient_authorization with `status: "pending"`. */
export function isPendingPoll(status: number, body: Record<string, unknown>): boolean {
  return status === 403 && body.error === 'insufficient_authorization' && body.status === 'pending';
}

/** What groups unexpected answers (pure): the text without its auth_session, error_description and numbers. */
export function failureKind(what: string): string {
  return what
    .replace(/"(auth_session|error_description|authorization_code)":"[^"]*",?/g, '')
    .replace(/\d+/g, '#')
    .slice(0, 200);
}

/** Earliest and latest wallet answer after a flow's begin, ms. */
export const WALLET_DELAY_MIN_MS = 2_000;
export const WALLET_DELAY_MAX_MS = 10_000;

/**
 * When slot `slot`'s wallet answers in its `round`-th flow, after the begin: spread over
 * [WALLET_DELAY_MIN_MS, WALLET_DELAY_MAX_MS] in 250 ms steps, deterministic, different for neighbouring
 * slots and rounds (so completions do not come in waves).
 */
export function walletDelayMs(slot: number, round: number): number {
  const steps = (WALLET_DELAY_MAX_MS - WALLET_DELAY_MIN_MS) / 250 + 1;
  return WALLET_DELAY_MIN_MS + (((slot * 7 + round * 13) % steps) + steps) % steps * 250;
}

/** CPU ms per item between two samples; NaN when a sample is missing or nothing was done. */
export function cpuPerItem(beforeMs: number | undefined, afterMs: number | undefined, items: number): number {
  if (beforeMs === undefined || afterMs === undefined || items <= 0) return NaN;
  return (afterMs - beforeMs) / items;
}

export interface WalletLoadReport {
  readonly flows: number;
  readonly begun: number;
  readonly completed: number;
  readonly polls: number;
  readonly seconds: number;
  /** Poll latencies (request written → response read), ms, all polls. */
  readonly pollLatency: LatencySummary;
  readonly beginLatency: LatencySummary;
  readonly tokenLatency: LatencySummary;
  /** Wallet post → the poll that got the code, ms (bounded below by the poll interval's phase). */
  readonly codeAfterPostMs: LatencySummary;
  readonly nonceRetries: number;
  /**
   * Polls answered 403 `method_required` after the wallet's post began (the flow keeps polling and normally
   * gets its code next): the server's consumed-but-not-yet-recorded window, counted in `failureCount` too.
   */
  readonly methodRequiredAfterPost: number;
  readonly failureCount: number;
  /** CPU of the bench process (driver, 100 wallets, the token load client) during the loaded phase, ms. */
  readonly benchCpuMs: number;
  /** CPU of the challenge process during the loaded phase, ms. */
  readonly challengeCpuMs: number | undefined;
}

export interface WalletSectionInput {
  readonly date: Date;
  readonly commit: string;
  readonly machine: MachineInfo;
  readonly baseline: PhaseResult & { serverCpuMs: number | undefined };
  readonly loaded: PhaseResult & { serverCpuMs: number | undefined };
  readonly load: WalletLoadReport;
  readonly posts: readonly { kind: string; posts: number; cpuMsPerPost: number; wallMsPerPost: number }[];
  readonly micro: readonly { what: string; runs: number; cpuMsPerCall: number; wallMsPerCall: number }[];
  readonly settings: readonly string[];
  /** The wallet group's failures: the section is written anyway, under a banner, and the run exits 1. */
  readonly problems: readonly string[];
}

const ms = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : '–');
const ms2 = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : '–');
const int = (v: number): string => Math.round(v).toLocaleString('en-US');
const pct = (a: number, b: number): string => (b > 0 && Number.isFinite(a) ? `${a >= b ? '+' : ''}${(((a - b) / b) * 100).toFixed(0)} %` : '–');

/** Throughput change and p99 ratio of the other endpoint, loaded vs alone (pure). */
export function degradation(baseline: PhaseResult, loaded: PhaseResult): { rps: string; p50: string; p99: string } {
  return { rps: pct(loaded.rps, baseline.rps), p50: pct(loaded.latency.p50, baseline.latency.p50), p99: pct(loaded.latency.p99, baseline.latency.p99) };
}

export function renderWalletSection(r: WalletSectionInput): string {
  const m = r.machine;
  const d = degradation(r.baseline, r.loaded);
  const row = (label: string, p: WalletSectionInput['baseline']): string =>
    `| ${label} | ${int(p.completed)} | ${int(p.rps)} | ${ms(p.latency.p50)} | ${ms(p.latency.p99)} | ${ms(p.latency.max)} | ${p.non2xx} | ${p.serverCpuMs === undefined ? '–' : ms2(p.serverCpuMs / Math.max(1, p.completed))} |`;
  const l = r.load;
  return [
    WALLET_START,
    '',
    '## Digital credentials (issue 11): cross-device polling under load, verification cost',
    '',
    `Generated by \`BENCH_ONLY=wallet npm run bench\` on ${r.date.toISOString().slice(0, 16).replace('T', ' ')} UTC at commit \`${r.commit}\`; ${m.nproc} CPUs (${m.cpuModel}), ${(m.memTotalBytes / 2 ** 30).toFixed(0)} GiB, Node ${m.node}, load average at start ${m.loadAverage.map((x) => x.toFixed(2)).join(' ')}.${(m.loadAverage[0] ?? 0) > m.nproc * 0.5 ? ' **Other work was running on this machine** (1-minute load above half its CPUs): the figures are indicative, the comparison within the run is what counts.' : ''} Everything (servers, PostgreSQL, Redis, the flows and the load client) shares these CPUs.`,
    '',
    ...(r.problems.length > 0 ? [`**This run failed** (\`npm run bench\` exited 1): ${r.problems.map((p) => p.split('\n')[0].replace(/:$/, '')).join('; ')}.`, ''] : []),
    `### The token endpoint alone and beside ${l.flows} polling cross-device flows`,
    '',
    '| token endpoint (full device grant, fixed offered rate) | responses | req/s | p50 ms | p99 ms | max ms | non-2xx | token CPU ms/req |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    row('alone', r.baseline),
    row(`with ${l.flows} cross-device flows polling every second`, r.loaded),
    '',
    `Change with the polling: throughput ${d.rps}, p50 ${d.p50}, p99 ${d.p99}.`,
    '',
    `The flows during that phase (${l.seconds.toFixed(0)} s, ${l.flows} slots, each starting its next flow when one ends): ${int(l.begun)} begun, **${int(l.completed)} completed** (code and tokens), ${int(l.polls)} polls, ${l.failureCount} unexpected answers (${l.methodRequiredAfterPost} of them a poll answered 403 \`method_required\` after the wallet's post began), ${l.nonceRetries} \`use_dpop_nonce\` retries; challenge process CPU ${l.challengeCpuMs === undefined ? '–' : `${int(l.challengeCpuMs)} ms (${ms2(l.challengeCpuMs / Math.max(1, l.polls))} ms per poll, begin, request object and wallet post included)`}; the bench process itself (the flows' proofs, the wallets' SD-JWT key binding and JWE, the token load client) ${int(l.benchCpuMs)} ms, ${(l.benchCpuMs / 1000 / Math.max(1, l.seconds)).toFixed(2)} of the ${m.nproc} cores, taken from the same cores as the servers.`,
    '',
    '| flow step | p50 ms | p90 ms | p99 ms | max ms |',
    '|---|---:|---:|---:|---:|',
    ...([
      ['poll (403 pending or 200 code)', l.pollLatency],
      ['begin (403 pending + link + QR code)', l.beginLatency],
      ['code exchange at /token', l.tokenLatency],
      ['wallet post → the poll that got the code', l.codeAfterPostMs],
    ] as const).map(([what, s]) => `| ${what} | ${ms(s.p50)} | ${ms(s.p90)} | ${ms(s.p99)} | ${ms(s.max)} |`),
    '',
    '### Verification cost per presentation',
    '',
    '| wallet post to `/openid4vp/response` | posts | challenge process CPU ms/post | wall ms/post |',
    '|---|---:|---:|---:|',
    ...r.posts.map((p) => `| ${p.kind} | ${p.posts} | ${ms2(p.cpuMsPerPost)} | ${ms2(p.wallMsPerPost)} |`),
    '',
    '| in-process verifier call (the bench process) | calls | CPU ms/call | wall ms/call |',
    '|---|---:|---:|---:|',
    ...r.micro.map((x) => `| \`${x.what}\` | ${x.runs} | ${ms2(x.cpuMsPerCall)} | ${ms2(x.wallMsPerCall)} |`),
    '',
    '<details><summary>How these were measured</summary>',
    '',
    ...r.settings.map((s) => `- ${s}`),
    '',
    '</details>',
    '',
    WALLET_END,
  ].join('\n');
}

/**
 * Puts the wallet section into docs/benchmarks.md (pure): in place between its markers; else just above
 * `npm run bench`'s results marker (that tool keeps everything above it); else at the end.
 */
export function mergeWalletSection(existing: string | undefined, section: string): string {
  const block = section.trimEnd();
  if (existing === undefined) return `# Benchmarks\n\n${block}\n`;
  const start = existing.indexOf(WALLET_START);
  const end = existing.indexOf(WALLET_END);
  if (start >= 0 && end > start) return `${existing.slice(0, start)}${block}${existing.slice(end + WALLET_END.length)}`;
  const marker = existing.indexOf(MARKER);
  if (marker >= 0) return `${existing.slice(0, marker)}${block}\n\n${existing.slice(marker)}`;
  return `${existing.trimEnd()}\n\n${block}\n`;
}
