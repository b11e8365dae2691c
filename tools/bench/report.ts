import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg, release, totalmem, type as osType } from 'node:os';
import type { PhaseResult } from './load';
import { federationSection, type FederatedPhaseReport, type LocalPhaseReport } from './federation-report';
import { browserSection, challengeSection, int, mib, ms, type BrowserPhaseReport, type ChallengePhaseReport } from './round-trip-report';

export { browserSection, challengeSection, type BrowserPhaseReport, type ChallengePhaseReport };

export const MARKER = '<!-- bench:results -->';

/** What one server process spent during a phase. */
export interface ProcessUsage {
  readonly name: string;
  /** CPU time during the phase, ms (undefined off Linux). */
  readonly cpuMs: number | undefined;
  /** Peak RSS during the phase (or since start when the peak cannot be reset), bytes. */
  readonly peakRssBytes: number | undefined;
}

/** A load phase plus what the server process(es) under load spent on it. */
export interface PhaseReport extends PhaseResult {
  /** The process under load, or several joined with " + ". */
  readonly server: string;
  /** CPU time of the server process (the sum, with several) during the phase, ms (undefined off Linux). */
  readonly serverCpuMs: number | undefined;
  /** Peak RSS of the server process during the phase (or since start when the peak cannot be reset), bytes. */
  readonly serverPeakRssBytes: number | undefined;
  /** A phase served by several processes: each one's share. */
  readonly processes?: readonly ProcessUsage[];
}

/** Issue 3's target: complete challenge round trips (begin + answer + code exchange) per second. */
export const CHALLENGE_TARGET_RPS = 500;

export interface MachineInfo {
  readonly nproc: number;
  readonly cpuModel: string;
  readonly memTotalBytes: number;
  readonly node: string;
  readonly os: string;
  readonly loadAverage: readonly number[];
}

export function machineInfo(): MachineInfo {
  let nproc = availableParallelism();
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || nproc;
  } catch {
    /* os.availableParallelism() it is */
  }
  let cpuModel = 'unknown';
  try {
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpuModel;
  } catch {
    /* not Linux */
  }
  return { nproc, cpuModel, memTotalBytes: totalmem(), node: process.version, os: `${osType()} ${release()}`, loadAverage: loadavg() };
}

export function gitCommit(cwd: string): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['--no-optional-locks', 'status', '--porcelain'], { cwd, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${sha} (with uncommitted changes)` : sha;
  } catch {
    return 'unknown';
  }
}

export function failureRatio(p: PhaseResult): number {
  const answered = p.completed + p.errors;
  return answered === 0 ? 1 : (p.non2xx + p.errors) / answered;
}

export function resultsTable(phases: readonly PhaseReport[]): string {
  const head = [
    'Phase',
    'Server',
    'Connections',
    'Offered load',
    'Completed',
    'Throughput (req/s)',
    'p50 (ms)',
    'p90 (ms)',
    'p99 (ms)',
    'max (ms)',
    'non-2xx',
    'Conn. errors',
    'Server CPU (cores)',
    'Server CPU / req (ms)',
    'Server peak RSS (MiB)',
  ];
  const rows = phases.map((p) => {
    const cores = p.serverCpuMs === undefined ? '–' : (p.serverCpuMs / 1000 / p.seconds).toFixed(2);
    const perReq = p.serverCpuMs === undefined || p.completed === 0 ? '–' : (p.serverCpuMs / p.completed).toFixed(2);
    return [
      p.title,
      p.server,
      String(p.connections),
      p.offeredRate === undefined ? 'max (closed loop)' : `${int(p.offeredRate)} req/s`,
      `${int(p.completed)}${p.timeBound ? ` of ${int(p.planned)} (time bound)` : ''}`,
      int(p.rps),
      ms(p.latency.p50),
      ms(p.latency.p90),
      ms(p.latency.p99),
      ms(p.latency.max),
      `${int(p.non2xx)}${p.non2xx > 0 ? ` (${((p.non2xx / Math.max(1, p.completed)) * 100).toFixed(2)} %)` : ''}`,
      int(p.errors),
      cores,
      perReq,
      p.processes ? p.processes.map((u) => `${u.name} ${mib(u.peakRssBytes)}`).join(', ') : mib(p.serverPeakRssBytes),
    ];
  });
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map((_, i) => (i < 2 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

export interface ReportInput {
  readonly date: Date;
  readonly commit: string;
  readonly machine: MachineInfo;
  readonly phases: readonly PhaseReport[];
  /** The max-throughput and fixed-rate token phases, for the target lines. */
  readonly tokenMax: PhaseReport | undefined;
  readonly tokenRate: PhaseReport | undefined;
  /** The measured challenge round-trip phase, when it ran. */
  readonly challenge?: ChallengePhaseReport;
  /** The measured browser login phases (issue 9), when they ran. */
  readonly browser?: readonly BrowserPhaseReport[];
  /** The federated and local login phases (issue 10), when they ran. */
  readonly federation?: { readonly federated: FederatedPhaseReport; readonly local: LocalPhaseReport };
  readonly lifetimePeakRss: Readonly<Record<string, number | undefined>>;
  readonly settings: readonly string[];
  readonly notes: readonly string[];
}

export function renderReport(r: ReportInput): string {
  const out: string[] = [];
  out.push('## Results', '');
  out.push(`Generated by \`npm run bench\` on ${r.date.toISOString()}, commit \`${r.commit}\`.`, '');
  for (const n of r.notes) out.push(`> ${n}`, '');
  out.push(resultsTable(r.phases), '');
  if (r.tokenMax || r.tokenRate) {
    out.push('Targets (one token process):', '');
    if (r.tokenMax) out.push(`- ≥ 1,000 device token grants/s: measured **${int(r.tokenMax.rps)} req/s** at ${r.tokenMax.connections} connections — ${r.tokenMax.rps >= 1000 ? 'met' : '**not met**'}.`);
    if (r.tokenRate) {
      const offered = r.tokenRate.offeredRate ?? 0;
      const measured = `measured **p99 ${ms(r.tokenRate.latency.p99)} ms** at ${int(offered)} req/s offered (achieved ${int(r.tokenRate.rps)} req/s; phase "${r.tokenRate.title}")`;
      if (offered < 1000) {
        out.push(`- p99 < 50 ms at 1,000 req/s: not evaluated — ${measured}; run with \`BENCH_RATE=1000\` (the default).`);
      } else {
        const met = r.tokenRate.latency.p99 < 50 && r.tokenRate.rps >= offered * 0.95;
        out.push(`- p99 < 50 ms at 1,000 req/s: ${measured} — ${met ? 'met' : '**not met**'}.`);
      }
    }
    out.push('');
  }
  if (r.challenge) {
    const c = r.challenge;
    out.push('Targets (one challenge process and one token process):', '');
    out.push(
      `- ≥ ${int(CHALLENGE_TARGET_RPS)} complete email-OTP challenge round trips/s (begin + SMTP + answer + code exchange): measured **${int(c.rps)} round trips/s** (p99 ${ms(c.latency.p99)} ms) with ${c.connections} concurrent clients — ${c.rps >= CHALLENGE_TARGET_RPS ? 'met' : '**not met**'}.`,
      '',
    );
  }
  for (const p of r.phases) {
    if (p.largestBurst10ms !== undefined && p.offeredRate !== undefined) {
      out.push(`Pacing of "${p.title}": at most ${p.largestBurst10ms} requests were sent within one 10 ms slot (perfectly even: ${Math.ceil(p.offeredRate / 100)}).`, '');
    }
  }
  const withErrors = r.phases.filter((p) => p.non2xx > 0 || p.errors > 0);
  if (withErrors.length > 0) {
    out.push('Refused or failed requests:', '');
    for (const p of withErrors) {
      const codes = [...p.statuses].filter(([s]) => s < 200 || s >= 300).map(([s, c]) => `${s}: ${int(c)}`);
      out.push(`- ${p.title}: ${codes.join(', ') || 'no non-2xx'}; connection errors ${int(p.errors)} (timeouts ${int(p.timeouts)})`);
    }
    out.push('');
  }
  const lifetime = Object.entries(r.lifetimePeakRss)
    .filter(([, b]) => b !== undefined)
    .map(([name, b]) => `${name} ${mib(b)} MiB`)
    .join(', ');
  if (lifetime) out.push(`Peak RSS over each process's whole life (start-up, all phases): ${lifetime}.`, '');
  if (r.challenge) out.push(...challengeSection(r.challenge));
  for (const b of r.browser ?? []) out.push(...browserSection(b));
  if (r.federation) out.push(...federationSection(r.federation.federated, r.federation.local));
  out.push('### Machine', '');
  out.push(`- CPU: ${r.machine.cpuModel} — nproc ${r.machine.nproc}`);
  out.push(`- Memory: ${(r.machine.memTotalBytes / 1024 ** 3).toFixed(1)} GiB`);
  out.push(`- Node.js ${r.machine.node} on ${r.machine.os}`);
  out.push(`- Load average when the run started: ${r.machine.loadAverage.map((l) => l.toFixed(2)).join(', ')}`);
  out.push('');
  out.push('### Settings', '');
  for (const s of r.settings) out.push(`- ${s}`);
  out.push('');
  return out.join('\n');
}

const INTRO = `# Benchmarks

How to run: \`npm run bench\` (builds, then runs \`dist/tools/bench/bench.js\`). It needs only a local
PostgreSQL (127.0.0.1:5432, trust auth, user \`postgres\`; override with \`BENCH_DATABASE_URL\`, an
admin URL) and Redis (127.0.0.1:6379; override with \`REDIS_URL\`). It creates its own database
(\`fpa_bench_<timestamp>_<pid>\`) and Redis key prefix, starts one token process, one registration
process and one challenge process from \`dist/\` in production mode (and, for the federation phases,
two standalone suites with their own databases and prefixes), and drops everything again at
the end. A default run takes about three to four minutes; run it on an otherwise idle machine,
since the load generator shares the machine with the servers, PostgreSQL and Redis.

What is measured, with [autocannon](https://github.com/mcollina/autocannon) and, for the round
trips, closed-loop node:http drivers:

- **Registration** — \`POST /register\` with a fresh EC P-256 device public key in every request.
- **Token, full device grant, max throughput** — \`POST /token\`, \`grant_type=client_credentials\`
  with a \`private_key_jwt\` client assertion signed by the device key and carrying
  \`device_auth_session\`, plus a DPoP proof with the server nonce (seed 000 (C)/(D)). Every
  assertion and proof is pre-signed with its own \`jti\`, so no request is a replay; the server does
  the whole job each time: proof and assertion verification, device session lookup, replay claims
  in Redis, refresh-token insert, access-token signature, audit.
- **Token, fixed rate** — the same requests at a fixed offered rate (default 1,000 req/s for 10 s),
  paced evenly over each second, to read the latency at that rate.
- **Challenge round trip** (issue 3) — a challenge process next to the token process, and a
  closed-loop driver: begin at \`POST /authorize-challenge\` (email OTP, delivered over SMTP to a
  sink in the bench process), answer with the emailed code, redeem the authorization code at
  \`POST /token\`; each round trip with a fresh DPoP key.
- **PAR** (issue 9) — \`POST /par\` of the token process from a confidential client with
  client_secret_basic; every push a complete authorization request of its own (PKCE S256, state,
  scope, redirect URI, one \`payment_initiation\` authorization details object validated against its
  JSON Schema), each stored once in Redis.
- **Browser login round trip** (issue 9) — what a browser without JavaScript does, closed loop:
  \`GET /authorize\` on the challenge process (the login page, its hidden \`interaction\` and \`csrf\`
  inputs, the login cookie), \`POST /authorize/login\` with an email (the code goes over SMTP to the
  sink), \`POST\` the code (\`303\` back to the redirect URI with \`code\`, \`state\`, \`iss\`), then the
  code exchange at \`POST /token\`; a new browser, PKCE verifier and user in every round trip.
  Another variant pushes each request to \`POST /par\` before it opens \`/authorize\` with the
  \`request_uri\`.
- **Federated login** (issue 10) — two standalone suites, AS1 federating to AS2
  (draft-zehavi-oauth-native-clients-federation), driven through the SDK's native walk: AS1's
  \`insufficient_information\` → the routing answer → \`federate\` (AS1 pushes to AS2) → AS2's
  native endpoint with e-mail OTP → AS2's code to AS1's \`/federation/callback\` (AS1 redeems it at
  AS2) → AS1's code → AS1's token; and in the same run the same flow routed \`local\` (AS1's own
  e-mail OTP), to read what federation adds, step by step.

For each phase: throughput, latency percentiles (p50/p90/p99/max), non-2xx responses (the run fails
when more than 0.5 % of a phase's responses, or of its round trips, fail), and CPU time and peak RSS
(VmHWM) of the server process under load; for the round trips also each step's latency and the CPU
of each process, PostgreSQL and Redis per round trip.

Targets: **≥ 1,000 device token grants/s from one token process, with p99 < 50 ms at that rate;
≥ 500 complete challenge round trips/s.**

Options (environment): \`BENCH_TOKEN_REQUESTS\` (default 15000), \`BENCH_REGISTER_REQUESTS\` (3000),
\`BENCH_CONNECTIONS\` (32), \`BENCH_RATE\` (1000), \`BENCH_DURATION_SECONDS\` (10, the fixed-rate phase),
\`BENCH_DEVICES\` (200), \`BENCH_MAX_PHASE_SECONDS\` (40), \`BENCH_APP_NODE_ARGS\` (extra node flags for
the app processes, e.g. \`--cpu-prof --cpu-prof-dir=/tmp/prof\`), \`BENCH_CHALLENGE_ROUNDS\` (3000),
\`BENCH_CHALLENGE_CONCURRENCY\` (32), \`BENCH_CHALLENGE_SIGNING\` (\`presigned\` or \`live\`),
\`BENCH_PAR_REQUESTS\` (20000), \`BENCH_BROWSER_ROUNDS\` (2000, each browser variant),
\`BENCH_BROWSER_CONCURRENCY\` (32), \`BENCH_FEDERATION_ROUNDS\` (1000, each variant),
\`BENCH_FEDERATION_CONCURRENCY\` (16), \`BENCH_ONLY\` / \`BENCH_SKIP\` (\`registration\`, \`token\`,
\`challenge\`, \`par\`, \`browser\`, \`federation\`; a partial run leaves this file alone unless \`BENCH_WRITE_DOCS=1\`).

Everything below the marker is generated by \`npm run bench\` and replaced by each run.

`;

/** Keeps the hand-written text above the marker and replaces what follows it. */
export function mergeDocs(existing: string | undefined, generated: string): string {
  if (existing === undefined) return `${INTRO}${MARKER}\n\n${generated.trimEnd()}\n`;
  const at = existing.indexOf(MARKER);
  const head = at >= 0 ? existing.slice(0, at) : `${existing.trimEnd()}\n\n`;
  return `${head}${MARKER}\n\n${generated.trimEnd()}\n`;
}
