import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENV_VARS } from '@fpa/config';
import { devicePublicKeys, fetchNonce, registerDevices, registrationRequest, signTokenRequests, type Device, type PreparedRequest } from './device-flow';
import { runFixedRate, runMaxThroughput, runPaced, type PhaseResult } from './load';
import { OptionsError, readOptions, type BenchOptions } from './options';
import { freePort, resetPeak, ROOT, runCli, sampleProcess, startApp, type AppProcess } from './processes';
import { failureRatio, gitCommit, machineInfo, mergeDocs, renderReport, resultsTable, type PhaseReport } from './report';
import { checkRedis, createDatabase, deleteRedisPrefix, redact } from './stores';

/** Sockets of the paced open-loop client (ample: at 1,000 req/s and a few ms each, only a handful are busy). */
const PACED_CONNECTIONS = 64;

/**
 * `npm run bench`: one token process and one registration process (production mode, real
 * PostgreSQL and Redis), driven by autocannon; results go to docs/benchmarks.md below the marker.
 * See docs/benchmarks.md for what is measured and the options.
 */

const CLIENT_ID = 'bench-app';
const CLIENT = {
  client_id: CLIENT_ID,
  name: 'Benchmark app',
  type: 'public',
  first_party: true,
  grant_types: ['fp_register', 'client_credentials', 'refresh_token'],
  auth_methods: ['private_key_jwt', 'none'],
  scopes: ['api'],
  dpop_bound_access_tokens: true,
};
/** Raised from the default 60 s so that proofs pre-signed before a phase stay acceptable through it. */
const DPOP_PROOF_MAX_AGE_SECONDS = 120;
/** A nonce stays valid for the window it was minted in and the next one: at least one window. */
const NONCE_WINDOW_SECONDS = Number(ENV_VARS.DPOP_NONCE_WINDOW_SECONDS.default);
const MAX_FAILURE_RATIO = 0.005;
/** Margin kept between the end of a phase and the moment its proofs or nonce would be refused. */
const SAFETY_MS = 3_000;
const DOCS = join(ROOT, 'docs', 'benchmarks.md');
/** The numeric options and their variables, to flag a run that is not the default one. */
const OPTION_VARS = {
  tokenRequests: 'BENCH_TOKEN_REQUESTS',
  registerRequests: 'BENCH_REGISTER_REQUESTS',
  connections: 'BENCH_CONNECTIONS',
  rate: 'BENCH_RATE',
  rateSeconds: 'BENCH_DURATION_SECONDS',
  devices: 'BENCH_DEVICES',
  maxPhaseSeconds: 'BENCH_MAX_PHASE_SECONDS',
} as const satisfies Partial<Record<keyof BenchOptions, string>>;

const t0 = performance.now();
const log = (msg: string): void => console.log(`[bench ${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${msg}`);
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Undo actions, run last-in first-out exactly once, whatever happened (errors, signals). */
class Cleanup {
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

interface Apps {
  readonly token: AppProcess;
  readonly registration: AppProcess;
}

/** Highest VmHWM seen per process over its whole life (peaks are reset per phase). */
const lifetimePeak: Record<string, number | undefined> = {};

function notePeak(app: AppProcess): void {
  const s = sampleProcess(app.pid);
  if (s && Number.isFinite(s.peakRssBytes)) lifetimePeak[app.name] = Math.max(lifetimePeak[app.name] ?? 0, s.peakRssBytes);
}

/** Runs one load phase and adds the server process's CPU time and peak RSS during it. */
async function measured(app: AppProcess, run: () => Promise<PhaseResult>): Promise<PhaseReport> {
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

function describe(p: PhaseReport): string {
  const l = p.latency;
  let tail = p.non2xx + p.errors > 0 ? `, non-2xx ${fmt(p.non2xx)}, errors ${fmt(p.errors)}` : '';
  if (p.largestBurst10ms !== undefined && p.offeredRate !== undefined) tail += ` (largest 10 ms send burst ${p.largestBurst10ms}, even pacing ${Math.ceil(p.offeredRate / 100)})`;
  return `${p.title}: ${fmt(p.completed)} in ${p.seconds.toFixed(1)} s = ${fmt(p.rps)} req/s, p50 ${l.p50.toFixed(2)} / p90 ${l.p90.toFixed(2)} / p99 ${l.p99.toFixed(2)} ms${tail}`;
}

/** Failure reasons of a phase: too many non-2xx/errors, or 2xx bodies that are not what the endpoint answers. */
function check(p: PhaseReport, expectInBody: (body: Record<string, unknown>) => boolean): string[] {
  const problems: string[] = [];
  if (p.completed === 0) problems.push(`${p.title}: no response at all`);
  const ratio = failureRatio(p);
  if (ratio > MAX_FAILURE_RATIO) {
    const codes = [...p.statuses].filter(([s]) => s < 200 || s >= 300).map(([s, c]) => `${s}×${c}`).join(', ');
    const samples = [...p.samples].filter(([s]) => s < 200 || s >= 300).map(([s, b]) => `  ${s}: ${b[0].slice(0, 500)}`).join('\n');
    problems.push(`${p.title}: ${(ratio * 100).toFixed(2)} % of requests failed (non-2xx ${p.non2xx}: ${codes || '-'}; connection errors ${p.errors}, timeouts ${p.timeouts})${samples ? `\n${samples}` : ''}`);
  }
  const ok = p.samples.get(200)?.[0];
  if (ok !== undefined) {
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(ok) as Record<string, unknown>;
    } catch {
      /* checked below */
    }
    if (!expectInBody(body)) problems.push(`${p.title}: a 200 response is not what the endpoint should answer: ${ok.slice(0, 500)}`);
  }
  if (p.feedExhausted > 0) problems.push(`${p.title}: ran out of pre-signed requests (${p.feedExhausted} re-sent)`);
  return problems;
}

const isTokenResponse = (b: Record<string, unknown>): boolean => typeof b.access_token === 'string' && b.token_type === 'DPoP' && typeof b.refresh_token === 'string';
const isRegistrationResponse = (b: Record<string, unknown>): boolean => typeof b.auth_session === 'string' && b.token_type === 'fp+jwt';

/** Nonce fetched and requests signed just before a token phase; the phase must end while both are accepted. */
async function prepareTokenPhase(issuer: string, devices: readonly Device[], count: number, label: string): Promise<{ requests: PreparedRequest[]; validUntil: number }> {
  const nonce = await fetchNonce(issuer, devices[0].dpopKey);
  const nonceFetchedAt = Date.now();
  const started = performance.now();
  const batch = await signTokenRequests(issuer, CLIENT_ID, devices, nonce, count);
  const took = (performance.now() - started) / 1000;
  log(`${label}: pre-signed ${fmt(count)} assertion + DPoP proof pairs in ${took.toFixed(1)} s (${fmt(count / took)} pairs/s)`);
  const validUntil = Math.min(nonceFetchedAt + NONCE_WINDOW_SECONDS * 1000, batch.oldestIatMs + DPOP_PROOF_MAX_AGE_SECONDS * 1000) - SAFETY_MS;
  return { requests: batch.requests, validUntil };
}

async function run(options: BenchOptions, cleanup: Cleanup): Promise<number> {
  const machine = machineInfo();
  const date = new Date();
  const commit = gitCommit(ROOT);
  log(`machine: ${machine.nproc} CPUs (${machine.cpuModel}), load average ${machine.loadAverage.map((l) => l.toFixed(2)).join(' ')}`);

  // --- stores ----------------------------------------------------------------------------------
  const redisVersion = await checkRedis(options.redisUrl);
  const db = await createDatabase(options.adminDatabaseUrl, `fpa_bench_${Date.now()}_${process.pid}`);
  cleanup.add('drop database', async () => {
    await db.drop();
    log(`dropped database ${db.name}`);
  });
  const prefix = `fpa-bench:${db.name}:`;
  cleanup.add('delete redis keys', async () => log(`deleted ${fmt(await deleteRedisPrefix(options.redisUrl, prefix))} Redis keys under ${prefix}`));
  log(`database ${db.name} on ${redact(options.adminDatabaseUrl)} (PostgreSQL ${db.serverVersion}), Redis ${redisVersion} with prefix ${prefix}`);

  // --- processes -------------------------------------------------------------------------------
  const [tokenPort, registrationPort] = [await freePort(), await freePort()];
  const issuer = `http://127.0.0.1:${tokenPort}`;
  const appEnv: Record<string, string> = {
    APP_MODE: 'production',
    HOST: '127.0.0.1',
    ISSUER: issuer,
    DATABASE_URL: db.url,
    REDIS_URL: options.redisUrl,
    REDIS_KEY_PREFIX: prefix,
    KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
    DPOP_NONCE_SECRET: randomBytes(32).toString('base64url'),
    LOG_LEVEL: 'warn',
    REGISTRATION_RATE_LIMIT: '10000000',
    DPOP_PROOF_MAX_AGE_SECONDS: String(DPOP_PROOF_MAX_AGE_SECONDS),
  };
  const token = await startApp('token', { ...appEnv, MIGRATIONS_RUN: 'true' }, tokenPort, options.appNodeArgs);
  cleanup.add('stop token process', () => token.stop());
  log(`token process ${token.pid} ready at ${token.url} (migrations applied)`);
  log((await runCli(['client', 'create', JSON.stringify(CLIENT)], appEnv)).trim());
  const registration = await startApp('registration', appEnv, registrationPort, options.appNodeArgs);
  cleanup.add('stop registration process', () => registration.stop());
  log(`registration process ${registration.pid} ready at ${registration.url} (issuer ${issuer})`);
  const apps: Apps = { token, registration };

  const phases: PhaseReport[] = [];
  const problems: string[] = [];
  const finish = (p: PhaseReport, expect: (b: Record<string, unknown>) => boolean): PhaseReport => {
    log(describe(p));
    problems.push(...check(p, expect));
    phases.push(p);
    return p;
  };

  // --- registration ----------------------------------------------------------------------------
  let started = performance.now();
  const devices = await registerDevices(registration.url, CLIENT_ID, options.devices);
  log(`registered ${fmt(devices.length)} devices for the token phases in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  started = performance.now();
  const registrationKeys = await devicePublicKeys(options.registerRequests + options.connections + 16);
  log(`generated ${fmt(registrationKeys.length)} device keys for the registration phase in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const registrationRequests = registrationKeys.map((jwk) => registrationRequest(CLIENT_ID, jwk));
  finish(
    await measured(apps.registration, () =>
      runMaxThroughput('Registration (max throughput)', registration.url, '/register', registrationRequests, options.connections, options.registerRequests, Date.now() + options.maxPhaseSeconds * 1000),
    ),
    isRegistrationResponse,
  );
  registrationRequests.length = 0;

  // --- token: warm-up (JIT, pool connections, the device-key cache), not reported ------------
  const warmup = Math.min(2_000, Math.max(options.connections * 4, options.devices * 2));
  {
    const { requests, validUntil } = await prepareTokenPhase(issuer, devices, warmup + options.connections, 'warm-up');
    const w = await runMaxThroughput('warm-up', issuer, '/token', requests, options.connections, warmup, validUntil);
    log(`warm-up: ${fmt(w.completed)} token requests, ${fmt(w.rps)} req/s, non-2xx ${w.non2xx}`);
    if (failureRatio(w) > MAX_FAILURE_RATIO) {
      const sample = ([...w.samples].find(([s]) => s >= 300)?.[1][0] ?? '').slice(0, 500);
      throw new Error(`the warm-up token requests fail (non-2xx ${w.non2xx}, errors ${w.errors}): ${sample}\n${token.output().slice(-4000)}`);
    }
  }

  // --- token: max throughput -------------------------------------------------------------------
  {
    const count = options.tokenRequests + options.connections + Math.ceil(options.tokenRequests * 0.01);
    const { requests, validUntil } = await prepareTokenPhase(issuer, devices, count, 'max throughput');
    const stopAt = Math.min(Date.now() + options.maxPhaseSeconds * 1000, validUntil);
    if (stopAt - Date.now() < 5_000) throw new Error('pre-signing took so long that the nonce/proof window leaves under 5 s to run; lower BENCH_TOKEN_REQUESTS');
    finish(
      await measured(apps.token, () => runMaxThroughput('Token, full device grant (max throughput)', issuer, '/token', requests, options.connections, options.tokenRequests, stopAt)),
      isTokenResponse,
    );
  }

  // --- token: fixed offered rate ---------------------------------------------------------------
  {
    const planned = options.rate * options.rateSeconds;
    const count = planned + Math.ceil(planned * 0.02) + 64;
    const { requests, validUntil } = await prepareTokenPhase(issuer, devices, count, 'fixed rate');
    const needed = options.rateSeconds * 1000 + 3_000;
    if (validUntil - Date.now() < needed) {
      throw new Error(`pre-signing left ${((validUntil - Date.now()) / 1000).toFixed(1)} s of the nonce/proof window; the fixed-rate phase needs ${needed / 1000} s (lower BENCH_RATE or BENCH_DURATION_SECONDS)`);
    }
    const stopAt = Math.min(Date.now() + needed + 5_000, validUntil);
    finish(
      await measured(apps.token, () => runFixedRate(`Token, full device grant (${fmt(options.rate)} req/s for ${options.rateSeconds} s)`, issuer, '/token', requests, options.rate, options.rateSeconds, stopAt)),
      isTokenResponse,
    );
  }
  // --- token: the same offered rate from a light open-loop client (64 keep-alive connections) ----
  {
    const planned = options.rate * options.rateSeconds;
    const count = planned + 64;
    const { requests, validUntil } = await prepareTokenPhase(issuer, devices, count, 'paced');
    const needed = options.rateSeconds * 1000 + 3_000;
    if (validUntil - Date.now() < needed) throw new Error('pre-signing left too little of the nonce/proof window for the paced phase');
    const stopAt = Math.min(Date.now() + needed + 5_000, validUntil);
    finish(
      await measured(apps.token, () =>
        runPaced(`Token, full device grant (${fmt(options.rate)} req/s for ${options.rateSeconds} s, paced)`, issuer, '/token', requests, options.rate, options.rateSeconds, stopAt, PACED_CONNECTIONS),
      ),
      isTokenResponse,
    );
  }
  notePeak(token);
  notePeak(registration);

  // --- report ----------------------------------------------------------------------------------
  const tokenMax = phases.find((p) => p.server === 'token' && p.offeredRate === undefined);
  // The paced phase (last) is the fair reading of latency at a rate; the 1,000-connection one is shown beside it.
  const tokenRate = [...phases].reverse().find((p) => p.server === 'token' && p.offeredRate !== undefined);
  const notes: string[] = [];
  const defaults = readOptions({});
  const changed = (Object.keys(OPTION_VARS) as (keyof typeof OPTION_VARS)[]).filter((k) => options[k] !== defaults[k]).map((k) => `${OPTION_VARS[k]}=${options[k]}`);
  if (changed.length > 0) notes.push(`Not the default run: ${changed.join(', ')}.`);
  if (machine.loadAverage[0] > machine.nproc * 0.25) {
    notes.push(`The load average was ${machine.loadAverage[0].toFixed(2)} on ${machine.nproc} CPUs when this run started: the machine was not idle, so these numbers understate what the code can do.`);
  }
  const report = renderReport({
    date,
    commit,
    machine,
    phases,
    tokenMax,
    tokenRate,
    lifetimePeakRss: { token: lifetimePeak.token, registration: lifetimePeak.registration },
    notes,
    settings: [
      `Registration phase: ${fmt(options.registerRequests)} requests over ${options.connections} connections, each with its own fresh EC P-256 public key (\`REGISTRATION_RATE_LIMIT=10000000\`).`,
      `Token phases: ${fmt(options.devices)} devices registered first, each with an EC P-256 device key and a separate EC P-256 DPoP key; requests go round-robin over them. Every request carries its own client assertion (\`device_auth_session\`, unique \`jti\`, \`exp\` = \`iat\` + 240 s) and DPoP proof (unique \`jti\`, \`htm\` POST, \`htu\` = ISSUER/token, the server nonce fetched just before the phase), all pre-signed outside the measurement. The client also holds \`refresh_token\`, so every grant inserts a refresh token.`,
      `Warm-up: ${fmt(warmup)} token requests before the measured token phases (not reported).`,
      `Max-throughput phase: ${fmt(options.tokenRequests)} requests over ${options.connections} connections (closed loop), bounded by ${options.maxPhaseSeconds} s and by the nonce/proof acceptance window.`,
      `Paced phase: the same offered rate from a light open-loop client — ${PACED_CONNECTIONS} keep-alive connections, request i sent at start + i/rate by a 1 ms scheduler, latency measured from the scheduled send time (no coordinated omission).`,
      `Fixed-rate phase: ${fmt(options.rate)} req/s offered for ${options.rateSeconds} s, open loop, one request per connection per second; the connections are split over autocannon instances started evenly across the first second (autocannon's own \`overallRate\` would release each second's requests as one burst).`,
      `App processes: \`APP_MODE=production\`, \`LOG_LEVEL=warn\`, \`DPOP_PROOF_MAX_AGE_SECONDS=${DPOP_PROOF_MAX_AGE_SECONDS}\` (default 60; raised so pre-signed proofs stay acceptable through a phase — it changes no per-request work), \`REGISTRATION_RATE_LIMIT=10000000\`, \`ISSUER\` = the token process URL for both, every other setting at its default (\`DATABASE_POOL_SIZE=10\`, \`SIGNING_ALG=ES256\`, \`DPOP_NONCE_WINDOW_SECONDS=${NONCE_WINDOW_SECONDS}\`, …)${options.appNodeArgs.length ? `; node flags \`${options.appNodeArgs.join(' ')}\`` : ''}.`,
      `Client: \`${JSON.stringify(CLIENT)}\` (created with the CLI).`,
      `Stores: PostgreSQL ${db.serverVersion}, Redis ${redisVersion}, both local.`,
      `Measurement: autocannon ${autocannonVersion()} in the bench process on the same machine (it competes with the servers, PostgreSQL and Redis for the same cores). Latency is autocannon's per-response time (request written → response complete); percentiles are nearest-rank over every response of the phase. Throughput = completed responses / (first request → last response). Server CPU is user + system time of the whole process from /proc/<pid>/stat (main thread, libuv threadpool — where WebCrypto signs and verifies — and GC threads, hence values above 1 core); peak RSS is VmHWM from /proc/<pid>/status, reset before each phase (\`/proc/<pid>/clear_refs\`).`,
    ],
  });
  console.log(`\n${resultsTable(phases)}\n`);
  if (problems.length > 0) {
    console.error(`\nBENCHMARK FAILED:\n- ${problems.join('\n- ')}\n\ndocs/benchmarks.md was not updated.`);
    return 1;
  }
  mkdirSync(join(ROOT, 'docs'), { recursive: true });
  writeFileSync(DOCS, mergeDocs(existsSync(DOCS) ? readFileSync(DOCS, 'utf8') : undefined, report));
  log(`wrote ${DOCS}`);
  return 0;
}

function autocannonVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'autocannon', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '(unknown version)';
  }
}

async function main(): Promise<void> {
  const cleanup = new Cleanup();
  let aborting = false;
  const abort = (why: string, code: number) => (e?: unknown) => {
    if (aborting) return;
    aborting = true;
    console.error(`\n[bench] ${why}${e instanceof Error ? `: ${e.stack ?? e.message}` : ''}; cleaning up`);
    void cleanup.run().finally(() => process.exit(code));
  };
  // `on`, not `once`: removing the last signal listener restores the default action before the handler runs.
  process.on('SIGINT', abort('interrupted (SIGINT)', 130));
  process.on('SIGTERM', abort('terminated (SIGTERM)', 143));
  process.on('uncaughtException', abort('uncaught exception', 1));
  process.on('unhandledRejection', abort('unhandled rejection', 1));
  let code = 1;
  try {
    code = await run(readOptions(), cleanup);
  } catch (e) {
    console.error(`\n[bench] FAILED: ${e instanceof OptionsError ? e.message : ((e as Error).stack ?? String(e))}`);
    code = 1;
  } finally {
    await cleanup.run();
  }
  process.exit(code);
}

void main();
