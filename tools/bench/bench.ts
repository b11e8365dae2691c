import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkStores, createDatabase, deleteRedisPrefix, freePort, PRODUCTION_NODE_ARGS, redact, ROOT, runCli, spawnApp, type AppProcess, type BuiltApp } from '@fpa/testing';
import { runBrowserPhases } from './browser-phases';
import { CHALLENGE_ENV, runChallengePhases } from './challenge-phases';
import { benchAppEnv, DPOP_PROOF_MAX_AGE_SECONDS, NONCE_WINDOW_SECONDS, type BenchContext, type ChallengeServer } from './context';
import { DEVICE_CLIENT, runDevicePhases } from './device-phases';
import { runFederationPhases } from './federation-phases';
import { federationSection } from './federation-report';
import { OptionsError, PHASE_GROUPS, readOptions, type BenchOptions } from './options';
import { runParPhases, writeDetailsFile } from './par-flow';
import { abortThroughCleanup, Cleanup, fmt, lifetimePeak, notePeak } from './phases';
import { browserSection, challengeSection, gitCommit, machineInfo, mergeDocs, renderReport, resultsTable, type PhaseReport } from './report';
import { startCodeSink } from './smtp-sink';
import { runWalletPhases } from './wallet-phases';
import { mergeWalletSection, renderWalletSection } from './wallet-stats';

/**
 * `npm run bench`: one token process, one registration process and one challenge process
 * (production mode, real PostgreSQL and Redis), driven by autocannon and closed-loop node:http
 * drivers; results go to docs/benchmarks.md below the marker. See docs/benchmarks.md for what is
 * measured and the options. This file starts the stores and processes, runs the phase groups
 * (device-phases, par-flow, challenge-phases, browser-phases) and writes the report.
 */

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
  challengeRounds: 'BENCH_CHALLENGE_ROUNDS',
  challengeConcurrency: 'BENCH_CHALLENGE_CONCURRENCY',
  challengeSigning: 'BENCH_CHALLENGE_SIGNING',
  parRequests: 'BENCH_PAR_REQUESTS',
  browserRounds: 'BENCH_BROWSER_ROUNDS',
  browserConcurrency: 'BENCH_BROWSER_CONCURRENCY',
  federationRounds: 'BENCH_FEDERATION_ROUNDS',
  federationConcurrency: 'BENCH_FEDERATION_CONCURRENCY',
  walletFlows: 'BENCH_WALLET_FLOWS',
  walletRate: 'BENCH_WALLET_RATE',
  walletSeconds: 'BENCH_WALLET_SECONDS',
  walletPosts: 'BENCH_WALLET_POSTS',
} as const satisfies Partial<Record<keyof BenchOptions, string>>;

const t0 = performance.now();
const log = (msg: string): void => console.log(`[bench ${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${msg}`);

/** One app process with the V8 flags of `npm run start:*`, then BENCH_APP_NODE_ARGS. */
const startApp = (app: BuiltApp, env: Record<string, string>, port: number, options: BenchOptions): Promise<AppProcess> =>
  spawnApp(app, env, { port, nodeArgs: [...PRODUCTION_NODE_ARGS, ...options.appNodeArgs], readyTimeoutMs: 45_000, outputLimit: 64 * 1024 });

/** The CLI's `client create`; its output line for the log. */
async function createClient(definition: Record<string, unknown>, env: Record<string, string>): Promise<string> {
  const r = await runCli(['client', 'create', JSON.stringify(definition)], env);
  if (r.code !== 0) throw new Error(`client create ${String(definition.client_id)} failed (exit ${r.code}):\n${r.output}`);
  return r.output.trim();
}

async function run(options: BenchOptions, cleanup: Cleanup): Promise<number> {
  const machine = machineInfo();
  const date = new Date();
  const commit = gitCommit(ROOT);
  log(`machine: ${machine.nproc} CPUs (${machine.cpuModel}), load average ${machine.loadAverage.map((l) => l.toFixed(2)).join(' ')}`);

  // --- stores ----------------------------------------------------------------------------------
  const versions = await checkStores({ databaseUrl: options.adminDatabaseUrl, redisUrl: options.redisUrl, databaseVar: 'BENCH_DATABASE_URL' });
  const db = await createDatabase('bench', { adminUrl: options.adminDatabaseUrl, prefix: 'fpa' });
  cleanup.add('drop database', async () => {
    await db.drop();
    log(`dropped database ${db.name}`);
  });
  const prefix = `fpa-bench:${db.name}:`;
  cleanup.add('delete redis keys', async () => log(`deleted ${fmt(await deleteRedisPrefix(options.redisUrl, prefix))} Redis keys under ${prefix}`));
  log(`database ${db.name} on ${redact(options.adminDatabaseUrl)} (PostgreSQL ${versions.postgres}), Redis ${versions.redis} with prefix ${prefix}`);

  // --- processes -------------------------------------------------------------------------------
  const want = options.phases;
  // The token phases run on devices registered through the registration process.
  const needRegistration = want.has('registration') || want.has('token') || want.has('wallet');
  const [tokenPort, registrationPort] = [await freePort(), await freePort()];
  const issuer = `http://127.0.0.1:${tokenPort}`;
  const appEnv: Record<string, string> = {
    ...benchAppEnv({ issuer, databaseUrl: db.url, redisUrl: options.redisUrl, redisKeyPrefix: prefix }),
    // The PAR phase pushes RAR payment_initiation objects: production mode knows no type without a file.
    ...(want.has('par') ? { AUTHORIZATION_DETAILS_FILE: writeDetailsFile() } : {}),
  };
  // The token process is the issuer of every phase (the challenge process's too), so it always runs.
  const token = await startApp('token', { ...appEnv, MIGRATIONS_RUN: 'true' }, tokenPort, options);
  cleanup.add('stop token process', () => token.stop({ graceMs: 10_000 }));
  log(`token process ${token.pid} ready at ${token.url} (migrations applied)`);
  let registration: AppProcess | undefined;
  if (needRegistration) {
    log(await createClient(DEVICE_CLIENT, appEnv));
    const reg = await startApp('registration', appEnv, registrationPort, options);
    registration = reg;
    cleanup.add('stop registration process', () => reg.stop({ graceMs: 10_000 }));
    log(`registration process ${reg.pid} ready at ${reg.url} (issuer ${issuer})`);
  }
  // The challenge process (and the SMTP sink it sends codes to) starts when a phase first needs it.
  let challengeServer: Promise<ChallengeServer> | undefined;
  const startChallengeServer = async (): Promise<ChallengeServer> => {
    const sink = await startCodeSink();
    cleanup.add('stop SMTP sink', () => sink.close());
    log(`SMTP sink listening at ${sink.url}`);
    const app = await startApp('challenge', { ...appEnv, ...CHALLENGE_ENV, SMTP_URL: sink.url }, await freePort(), options);
    cleanup.add('stop challenge process', () => app.stop({ graceMs: 10_000 }));
    log(`challenge process ${app.pid} ready at ${app.url} (issuer ${issuer})`);
    return { app, sink };
  };
  if (want.size < PHASE_GROUPS.length) log(`running only: ${[...want].join(', ')}`);
  const ctx: BenchContext = {
    options,
    log,
    cleanup,
    issuer,
    token,
    registration,
    appEnv,
    dbName: db.name,
    createClient: (definition) => createClient(definition, appEnv),
    challengeServer: () => (challengeServer ??= startChallengeServer()),
  };

  // --- the phase groups, in this order: registration and device grants, PAR, challenge, browser ---
  const device = await runDevicePhases(ctx);
  const par = await runParPhases(ctx);
  const challenge = await runChallengePhases(ctx);
  // After the challenge phase, on the same (warm) challenge process when both run.
  const browser = await runBrowserPhases(ctx);
  // Last: two standalone suites of their own (their own databases and prefixes), AS1 federating to AS2.
  const federation = await runFederationPhases(ctx);
  // Then the digital-credential phases (issue 11): their own challenge process, the token endpoint beside polling flows.
  const wallet = await runWalletPhases(ctx);
  const groups = [device, par, challenge, browser, federation, wallet];
  const phases: PhaseReport[] = groups.flatMap((g) => g.reports);
  const problems: string[] = groups.flatMap((g) => g.problems);
  const challengeProcess = challengeServer ? (await challengeServer).app : undefined;
  notePeak(token);
  if (registration) notePeak(registration);
  if (challengeProcess) notePeak(challengeProcess);

  // --- report ----------------------------------------------------------------------------------
  // The device-grant phases (the PAR phase runs on the token process too).
  const tokenMax = phases.find((p) => p.server === 'token' && p.title.startsWith('Token') && p.offeredRate === undefined);
  // The paced phase (last) is the fair reading of latency at a rate; the 1,000-connection one is shown beside it.
  const tokenRate = [...phases].reverse().find((p) => p.server === 'token' && p.title.startsWith('Token') && p.offeredRate !== undefined);
  const notes: string[] = [];
  const defaults = readOptions({});
  const changed = (Object.keys(OPTION_VARS) as (keyof typeof OPTION_VARS)[]).filter((k) => options[k] !== defaults[k]).map((k) => `${OPTION_VARS[k]}=${options[k]}`);
  if (want.size < PHASE_GROUPS.length) changed.push(`only the ${[...want].join(', ')} phases`);
  if (changed.length > 0) notes.push(`Not the default run: ${changed.join(', ')}.`);
  if (machine.loadAverage[0] > machine.nproc * 0.25) {
    notes.push(`The load average was ${machine.loadAverage[0].toFixed(2)} on ${machine.nproc} CPUs when this run started: the machine was not idle, so these numbers understate what the code can do.`);
  }
  const settings: string[] = [...device.settings, ...challenge.settings, ...par.settings, ...browser.settings, ...federation.settings];
  settings.push(
    `App processes: \`APP_MODE=production\`, \`LOG_LEVEL=warn\`, \`DPOP_PROOF_MAX_AGE_SECONDS=${DPOP_PROOF_MAX_AGE_SECONDS}\` (default 60; raised so pre-signed proofs stay acceptable through a phase — it changes no per-request work), \`REGISTRATION_RATE_LIMIT=10000000\`, \`ISSUER\` = the token process URL for all, every other setting at its default (\`DATABASE_POOL_SIZE=10\`, \`SIGNING_ALG=ES256\`, \`DPOP_NONCE_WINDOW_SECONDS=${NONCE_WINDOW_SECONDS}\`, …)${options.appNodeArgs.length ? `; node flags \`${options.appNodeArgs.join(' ')}\`` : ''}.`,
  );
  if (needRegistration) settings.push(`Client: \`${JSON.stringify(DEVICE_CLIENT)}\` (created with the CLI).`);
  settings.push(
    `Stores: PostgreSQL ${versions.postgres}, Redis ${versions.redis}, both local.`,
    `Measurement: autocannon ${autocannonVersion()} in the bench process on the same machine (it competes with the servers, PostgreSQL and Redis for the same cores). Latency is autocannon's per-response time (request written → response complete); percentiles are nearest-rank over every response of the phase. Throughput = completed responses / (first request → last response). Server CPU is user + system time of the whole process from /proc/<pid>/stat (main thread, libuv threadpool — where WebCrypto signs and verifies — and GC threads, hence values above 1 core); peak RSS is VmHWM from /proc/<pid>/status, reset before each phase (\`/proc/<pid>/clear_refs\`).${want.has('challenge') ? ' The challenge row counts complete round trips: its latency is the whole round trip (first byte of begin → token response), its CPU is the challenge and token processes together (each apart below the table, with the bench process\'s own CPU from `process.cpuUsage()`, the PostgreSQL backends connected to the bench database — not the WAL writer or checkpointer — and the whole Redis server process from /proc).' : ''}${browser.browser.length > 0 ? ' The browser rows count complete round trips likewise: latency from the first byte of the push (or of `GET /authorize`) to the token response, CPU the challenge and token processes together (each apart in their sections below).' : ''}${federation.federation ? ' The federation rows count complete logins: latency from the first byte of the first request at AS1 to AS1\'s token response, CPU the two standalone suites together (each apart, with both databases\' PostgreSQL backends and Redis, in the federation section).' : ''}`,
  );
  const report = renderReport({
    date,
    commit,
    machine,
    phases,
    tokenMax,
    tokenRate,
    challenge: challenge.challenge,
    browser: browser.browser,
    federation: federation.federation,
    lifetimePeakRss: { token: lifetimePeak.token, registration: lifetimePeak.registration, challenge: lifetimePeak.challenge, as1: lifetimePeak.as1, as2: lifetimePeak.as2 },
    notes,
    settings,
  });
  console.log(`\n${resultsTable(phases)}\n`);
  if (challenge.challenge) console.log(`${challengeSection(challenge.challenge).join('\n')}\n`);
  for (const b of browser.browser) console.log(`${browserSection(b).join('\n')}\n`);
  if (federation.federation) console.log(`${federationSection(federation.federation.federated, federation.federation.local).join('\n')}\n`);
  // The wallet section sits between its own markers: a wallet-only run may replace it (unless BENCH_WRITE_DOCS=0).
  // It is written even when the run failed, under a banner naming the failures (the exit code stays 1).
  if (wallet.wallet && options.writeWalletSection) {
    const section = renderWalletSection({ date, commit, machine, ...wallet.wallet });
    console.log(`\n${section}\n`);
    mkdirSync(join(ROOT, 'docs'), { recursive: true });
    writeFileSync(DOCS, mergeWalletSection(existsSync(DOCS) ? readFileSync(DOCS, 'utf8') : undefined, section));
    log(`wrote the digital-credentials section of ${DOCS}${wallet.problems.length > 0 ? ' (marked failed)' : ''}`);
  }
  if (problems.length > 0) {
    console.error(`\nBENCHMARK FAILED:\n- ${problems.join('\n- ')}\n\ndocs/benchmarks.md was not updated${wallet.wallet && options.writeWalletSection ? ' (but for its digital-credentials section, marked failed)' : ''}.`);
    return 1;
  }
  if (!options.writeDocs) {
    log(`docs/benchmarks.md not updated: ${want.size < PHASE_GROUPS.length ? 'a partial run (BENCH_ONLY/BENCH_SKIP) would replace every phase\'s results; set BENCH_WRITE_DOCS=1 to write anyway' : 'BENCH_WRITE_DOCS=0'}`);
    return 0;
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
  abortThroughCleanup(cleanup, 'bench');
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
