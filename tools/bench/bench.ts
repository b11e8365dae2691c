import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENV_VARS } from '@fpa/config';
import { generateClientKeyPair } from '@fpa/crypto';
import { prepareRounds, runChallengeRoundTrips } from './challenge-flow';
import { devicePublicKeys, fetchNonce, registerDevices, registrationRequest, signTokenRequests, type Device, type PreparedRequest } from './device-flow';
import { runFixedRate, runMaxThroughput, runPaced } from './load';
import { OptionsError, PHASE_GROUPS, readOptions, type BenchOptions } from './options';
import { checkStores, createDatabase, deleteRedisPrefix, freePort, PRODUCTION_NODE_ARGS, redact, ROOT, runCli, spawnApp, type AppProcess, type BuiltApp } from '@fpa/testing';
import { checkChallenge, checkPhase, Cleanup, describeChallenge, describePhase, fmt, isRegistrationResponse, isTokenResponse, lifetimePeak, MAX_FAILURE_RATIO, measured, measuredAll, notePeak } from './phases';
import { isParResponse, PAR_CLIENT, PAR_CLIENT_ID, parSettings, parWarmupCount, runParPhase, secretFrom, writeDetailsFile } from './par-flow';
import { challengeSection, failureRatio, gitCommit, machineInfo, mergeDocs, renderReport, resultsTable, type ChallengePhaseReport, type PhaseReport } from './report';
import { startCodeSink } from './smtp-sink';
import { sampleStoreCpu, storeCpuBetween } from './stores';

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
/** The public first-party client of the challenge phase (issue 3): it only holds the code grant (and refresh tokens). */
const CHALLENGE_CLIENT_ID = 'bench-challenge-app';
const CHALLENGE_CLIENT = {
  client_id: CHALLENGE_CLIENT_ID,
  name: 'Benchmark app (authorization challenge)',
  type: 'public',
  first_party: true,
  grant_types: ['authorization_code', 'refresh_token'],
  auth_methods: ['none'],
  scopes: ['api'],
  dpop_bound_access_tokens: true,
};
/** The challenge process's own settings: email OTP only, and no limit that a load test from one IP would hit. */
const CHALLENGE_ENV = {
  CHALLENGE_METHODS: 'email_otp',
  CHALLENGE_RATE_LIMIT_IP: '10000000',
  CHALLENGE_RATE_LIMIT_SESSION: '10000000',
  CHALLENGE_RATE_LIMIT_DESTINATION: '10000000',
  CHALLENGE_RESEND_SECONDS: '0',
  SEND_BUDGET_EMAIL_PER_CLIENT: '10000000',
  SEND_BUDGET_EMAIL_GLOBAL: '10000000',
} as const;
/** Raised from the default 60 s so that proofs pre-signed before a phase stay acceptable through it. */
const DPOP_PROOF_MAX_AGE_SECONDS = 120;
/** A nonce stays valid for the window it was minted in and the next one: at least one window. */
const NONCE_WINDOW_SECONDS = Number(ENV_VARS.DPOP_NONCE_WINDOW_SECONDS.default);
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
  challengeRounds: 'BENCH_CHALLENGE_ROUNDS',
  challengeConcurrency: 'BENCH_CHALLENGE_CONCURRENCY',
  challengeSigning: 'BENCH_CHALLENGE_SIGNING',
  parRequests: 'BENCH_PAR_REQUESTS',
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

/**
 * Keys (and, pre-signed, the proofs) of `count` challenge round trips, with the server nonce fetched
 * just before; pre-signed proofs bound the phase to the nonce/proof acceptance window.
 */
async function prepareChallengePhase(issuer: string, options: BenchOptions, count: number, label: string): Promise<{ rounds: Awaited<ReturnType<typeof prepareRounds>>['rounds']; nonce: string; validUntil: number }> {
  const nonce = await fetchNonce(issuer, await generateClientKeyPair('ES256'));
  const nonceFetchedAt = Date.now();
  const tag = `${label.replace(/[^a-z0-9]/gi, '')}.${process.pid}.${Date.now().toString(36)}`;
  const prepared = await prepareRounds(issuer, count, tag, options.challengeSigning, nonce);
  const signed = options.challengeSigning === 'presigned' ? `, pre-signed ${fmt(count * 3)} DPoP proofs in ${prepared.signSeconds.toFixed(1)} s` : ' (proofs signed live)';
  log(`${label}: generated ${fmt(count)} DPoP keys in ${prepared.keySeconds.toFixed(1)} s${signed}`);
  const validUntil =
    prepared.oldestIatMs === undefined ? Number.POSITIVE_INFINITY : Math.min(nonceFetchedAt + NONCE_WINDOW_SECONDS * 1000, prepared.oldestIatMs + DPOP_PROOF_MAX_AGE_SECONDS * 1000) - SAFETY_MS;
  return { rounds: prepared.rounds, nonce, validUntil };
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
  const needRegistration = want.has('registration') || want.has('token');
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
    // The PAR phase pushes RAR payment_initiation objects: production mode knows no type without a file.
    ...(want.has('par') ? { AUTHORIZATION_DETAILS_FILE: writeDetailsFile() } : {}),
  };
  // The token process is the issuer of every phase (the challenge process's too), so it always runs.
  const token = await startApp('token', { ...appEnv, MIGRATIONS_RUN: 'true' }, tokenPort, options);
  cleanup.add('stop token process', () => token.stop({ graceMs: 10_000 }));
  log(`token process ${token.pid} ready at ${token.url} (migrations applied)`);
  let registration: AppProcess | undefined;
  if (needRegistration) {
    log(await createClient(CLIENT, appEnv));
    const reg = await startApp('registration', appEnv, registrationPort, options);
    registration = reg;
    cleanup.add('stop registration process', () => reg.stop({ graceMs: 10_000 }));
    log(`registration process ${reg.pid} ready at ${reg.url} (issuer ${issuer})`);
  }
  if (want.size < PHASE_GROUPS.length) log(`running only: ${[...want].join(', ')}`);

  const phases: PhaseReport[] = [];
  const problems: string[] = [];
  const finish = (p: PhaseReport, expect: (b: Record<string, unknown>) => boolean): PhaseReport => {
    log(describePhase(p));
    problems.push(...checkPhase(p, expect));
    phases.push(p);
    return p;
  };

  // --- registration ----------------------------------------------------------------------------
  let devices: Device[] = [];
  if (registration && want.has('token')) {
    const started = performance.now();
    devices = await registerDevices(registration.url, CLIENT_ID, options.devices);
    log(`registered ${fmt(devices.length)} devices for the token phases in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  if (registration && want.has('registration')) {
    const reg = registration;
    const started = performance.now();
    const registrationKeys = await devicePublicKeys(options.registerRequests + options.connections + 16);
    log(`generated ${fmt(registrationKeys.length)} device keys for the registration phase in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const registrationRequests = registrationKeys.map((jwk) => registrationRequest(CLIENT_ID, jwk));
    finish(
      await measured(reg, () =>
        runMaxThroughput('Registration (max throughput)', reg.url, '/register', registrationRequests, options.connections, options.registerRequests, Date.now() + options.maxPhaseSeconds * 1000),
      ),
      isRegistrationResponse,
    );
    registrationRequests.length = 0;
  }

  const warmup = Math.min(2_000, Math.max(options.connections * 4, options.devices * 2));
  if (want.has('token')) {
    // --- token: warm-up (JIT, pool connections, the device-key cache), not reported ------------
    {
      const { requests, validUntil } = await prepareTokenPhase(issuer, devices, warmup + options.connections, 'warm-up');
      const w = await runMaxThroughput('warm-up', issuer, '/token', requests, options.connections, warmup, validUntil);
      log(`warm-up: ${fmt(w.completed)} token requests, ${fmt(w.rps)} req/s, non-2xx ${w.non2xx}`);
      if (failureRatio(w) > MAX_FAILURE_RATIO) {
        const sample = ([...w.samples].find(([s]) => s >= 300)?.[1][0] ?? '').slice(0, 500);
        throw new Error(`the warm-up token requests fail (non-2xx ${w.non2xx}, errors ${w.errors}): ${sample}\n${token.output().slice(-4000)}`);
      }
    }

    // --- token: max throughput -----------------------------------------------------------------
    {
      const count = options.tokenRequests + options.connections + Math.ceil(options.tokenRequests * 0.01);
      const { requests, validUntil } = await prepareTokenPhase(issuer, devices, count, 'max throughput');
      const stopAt = Math.min(Date.now() + options.maxPhaseSeconds * 1000, validUntil);
      if (stopAt - Date.now() < 5_000) throw new Error('pre-signing took so long that the nonce/proof window leaves under 5 s to run; lower BENCH_TOKEN_REQUESTS');
      finish(
        await measured(token, () => runMaxThroughput('Token, full device grant (max throughput)', issuer, '/token', requests, options.connections, options.tokenRequests, stopAt)),
        isTokenResponse,
      );
    }

    // --- token: fixed offered rate -------------------------------------------------------------
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
        await measured(token, () => runFixedRate(`Token, full device grant (${fmt(options.rate)} req/s for ${options.rateSeconds} s)`, issuer, '/token', requests, options.rate, options.rateSeconds, stopAt)),
        isTokenResponse,
      );
    }
    // --- token: the same offered rate from a light open-loop client (64 keep-alive connections) --
    {
      const planned = options.rate * options.rateSeconds;
      const count = planned + 64;
      const { requests, validUntil } = await prepareTokenPhase(issuer, devices, count, 'paced');
      const needed = options.rateSeconds * 1000 + 3_000;
      if (validUntil - Date.now() < needed) throw new Error('pre-signing left too little of the nonce/proof window for the paced phase');
      const stopAt = Math.min(Date.now() + needed + 5_000, validUntil);
      finish(
        await measured(token, () =>
          runPaced(`Token, full device grant (${fmt(options.rate)} req/s for ${options.rateSeconds} s, paced)`, issuer, '/token', requests, options.rate, options.rateSeconds, stopAt, PACED_CONNECTIONS),
        ),
        isTokenResponse,
      );
    }
  }

  // --- PAR: pushed authorization requests with client_secret_basic (issue 9) ----------------------
  const parWarmup = parWarmupCount(options);
  if (want.has('par')) {
    // The CLI prints the secret once; it is kept, never logged.
    const secret = secretFrom(await createClient(PAR_CLIENT, appEnv));
    log(`created client ${PAR_CLIENT_ID} (confidential, client_secret_basic)`);
    finish(await runParPhase(issuer, token, options, secret, parWarmup, log), isParResponse);
  }

  // --- challenge: email-OTP round trip + code exchange (issue 3) -------------------------------
  let challengeReport: ChallengePhaseReport | undefined;
  let challengeProcess: AppProcess | undefined;
  const challengeWarmup = Math.min(500, Math.max(options.challengeConcurrency * 4, Math.ceil(options.challengeRounds / 10)));
  if (want.has('challenge')) {
    const codeSink = await startCodeSink();
    cleanup.add('stop SMTP sink', () => codeSink.close());
    log(`SMTP sink listening at ${codeSink.url}`);
    log(await createClient(CHALLENGE_CLIENT, appEnv));
    const challenge = await startApp('challenge', { ...appEnv, ...CHALLENGE_ENV, SMTP_URL: codeSink.url }, await freePort(), options);
    challengeProcess = challenge;
    cleanup.add('stop challenge process', () => challenge.stop({ graceMs: 10_000 }));
    log(`challenge process ${challenge.pid} ready at ${challenge.url} (issuer ${issuer})`);
    const spec = { challengeUrl: challenge.url, tokenUrl: token.url, issuer, clientId: CHALLENGE_CLIENT_ID, concurrency: options.challengeConcurrency, sink: codeSink, signing: options.challengeSigning };

    // Warm-up (JIT, the SMTP pool, PostgreSQL and Redis connections of the challenge process), not reported.
    {
      const { rounds, nonce, validUntil } = await prepareChallengePhase(issuer, options, challengeWarmup, 'challenge warm-up');
      const w = await runChallengeRoundTrips({ ...spec, title: 'challenge warm-up', rounds, nonce, stopAt: Math.min(validUntil, Date.now() + options.maxPhaseSeconds * 1000) });
      log(describeChallenge(w));
      const failures = checkChallenge(w);
      if (failures.length > 0) throw new Error(`the warm-up challenge round trips fail: ${failures.join('; ')}\n${challenge.output().slice(-4000)}\n${token.output().slice(-2000)}`);
    }

    // Max throughput, closed loop.
    {
      const { rounds, nonce, validUntil } = await prepareChallengePhase(issuer, options, options.challengeRounds, 'challenge');
      const stopAt = Math.min(Date.now() + options.maxPhaseSeconds * 1000, validUntil);
      if (stopAt - Date.now() < 5_000) throw new Error('pre-signing took so long that the nonce/proof window leaves under 5 s to run; lower BENCH_CHALLENGE_ROUNDS or use BENCH_CHALLENGE_SIGNING=live');
      const title = 'Challenge round trip: email OTP begin + answer + code exchange (max throughput; round trips/s)';
      const storesBefore = await sampleStoreCpu(options.adminDatabaseUrl, db.name, options.redisUrl);
      const measuredRun = await measuredAll([challenge, token], () => runChallengeRoundTrips({ ...spec, title, rounds, nonce, stopAt }));
      const storeCpu = storeCpuBetween(storesBefore, await sampleStoreCpu(options.adminDatabaseUrl, db.name, options.redisUrl));
      const c: ChallengePhaseReport = {
        ...measuredRun,
        storeUsage: [
          { name: 'PostgreSQL backends of the bench database', cpuMs: storeCpu.postgresMs, peakRssBytes: undefined },
          { name: 'Redis server (the whole process)', cpuMs: storeCpu.redisMs, peakRssBytes: undefined },
        ].filter((u) => u.cpuMs !== undefined),
      };
      log(describeChallenge(c));
      problems.push(...checkChallenge(c));
      if (codeSink.unparsable > 0) problems.push(`${title}: ${codeSink.unparsable} emails held no code`);
      phases.push(c);
      challengeReport = c;
    }
  }
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
  const settings: string[] = [];
  if (want.has('registration')) {
    settings.push(`Registration phase: ${fmt(options.registerRequests)} requests over ${options.connections} connections, each with its own fresh EC P-256 public key (\`REGISTRATION_RATE_LIMIT=10000000\`).`);
  }
  if (want.has('token')) {
    settings.push(
      `Token phases: ${fmt(options.devices)} devices registered first, each with an EC P-256 device key and a separate EC P-256 DPoP key; requests go round-robin over them. Every request carries its own client assertion (\`device_auth_session\`, unique \`jti\`, \`exp\` = \`iat\` + 240 s) and DPoP proof (unique \`jti\`, \`htm\` POST, \`htu\` = ISSUER/token, the server nonce fetched just before the phase), all pre-signed outside the measurement. The client also holds \`refresh_token\`, so every grant inserts a refresh token.`,
      `Warm-up: ${fmt(warmup)} token requests before the measured token phases (not reported).`,
      `Max-throughput phase: ${fmt(options.tokenRequests)} requests over ${options.connections} connections (closed loop), bounded by ${options.maxPhaseSeconds} s and by the nonce/proof acceptance window.`,
      `Paced phase: the same offered rate from a light open-loop client — ${PACED_CONNECTIONS} keep-alive connections, request i sent at start + i/rate by a 1 ms scheduler, latency measured from the scheduled send time (no coordinated omission).`,
      `Fixed-rate phase: ${fmt(options.rate)} req/s offered for ${options.rateSeconds} s, open loop, one request per connection per second; the connections are split over autocannon instances started evenly across the first second (autocannon's own \`overallRate\` would release each second's requests as one burst).`,
    );
  }
  if (want.has('challenge')) {
    settings.push(
      `Challenge phase (issue 3): ${fmt(options.challengeRounds)} email-OTP round trips (\`BENCH_CHALLENGE_ROUNDS\`) from ${options.challengeConcurrency} concurrent closed-loop clients (\`BENCH_CHALLENGE_CONCURRENCY\`), bounded by ${options.maxPhaseSeconds} s${options.challengeSigning === 'presigned' ? ' and by the nonce/proof acceptance window' : ''}, after ${fmt(challengeWarmup)} unreported warm-up round trips. Each round trip has its own fresh EC P-256 DPoP key (generated before the phase), PKCE verifier and \`login_hint\` (a new address, so every answer creates a user): begin → the code from the SMTP sink → answer → \`POST /token\` \`grant_type=authorization_code\` with \`client_id\`, \`code_verifier\` and a proof by the same key. The challenge requests go to the challenge process with \`htu\` = ISSUER/authorize-challenge; the nonce is the token process's (one \`DPOP_NONCE_SECRET\` and ISSUER for both). Every proof has its own \`jti\`; ${options.challengeSigning === 'presigned' ? 'all three proofs of every round trip are signed before the phase with the nonce fetched just before it (`BENCH_CHALLENGE_SIGNING=presigned`; `live` signs each one just before its request)' : 'each proof is signed just before its request with the newest nonce the servers sent (`BENCH_CHALLENGE_SIGNING=live`)'}; a \`use_dpop_nonce\` answer is repeated once with a fresh proof. The driver is node:http with one keep-alive agent per server (fetch costs about five times the client CPU per request). A round trip fails at the first unexpected answer (or a 10 s timeout); more than 0.5 % failed round trips fail the run. Skip or isolate phases with \`BENCH_ONLY\` / \`BENCH_SKIP\` (registration, token, challenge).`,
      `Challenge process: \`CHALLENGE_METHODS=email_otp\`, \`SMTP_URL\` = a real SMTP server (smtp-server, no TLS, no AUTH) inside the bench process, which answers each message's DATA only after taking its code, so "begin" includes the delivery as the client sees it; \`${Object.entries(CHALLENGE_ENV)
        .filter(([k]) => k !== 'CHALLENGE_METHODS')
        .map(([k, v]) => `${k}=${v}`)
        .join('`, `')}\` (all from one IP, to unique addresses); every other challenge setting at its default (the SMTP pool's 5 connections, \`OTP_LENGTH=6\`, …).`,
      `Challenge client: \`${JSON.stringify(CHALLENGE_CLIENT)}\` (created with the CLI; \`refresh_token\`, so every code exchange also inserts a refresh token).`,
    );
  }
  if (want.has('par')) settings.push(parSettings(options, parWarmup));
  settings.push(
    `App processes: \`APP_MODE=production\`, \`LOG_LEVEL=warn\`, \`DPOP_PROOF_MAX_AGE_SECONDS=${DPOP_PROOF_MAX_AGE_SECONDS}\` (default 60; raised so pre-signed proofs stay acceptable through a phase — it changes no per-request work), \`REGISTRATION_RATE_LIMIT=10000000\`, \`ISSUER\` = the token process URL for all, every other setting at its default (\`DATABASE_POOL_SIZE=10\`, \`SIGNING_ALG=ES256\`, \`DPOP_NONCE_WINDOW_SECONDS=${NONCE_WINDOW_SECONDS}\`, …)${options.appNodeArgs.length ? `; node flags \`${options.appNodeArgs.join(' ')}\`` : ''}.`,
  );
  if (needRegistration) settings.push(`Client: \`${JSON.stringify(CLIENT)}\` (created with the CLI).`);
  settings.push(
    `Stores: PostgreSQL ${versions.postgres}, Redis ${versions.redis}, both local.`,
    `Measurement: autocannon ${autocannonVersion()} in the bench process on the same machine (it competes with the servers, PostgreSQL and Redis for the same cores). Latency is autocannon's per-response time (request written → response complete); percentiles are nearest-rank over every response of the phase. Throughput = completed responses / (first request → last response). Server CPU is user + system time of the whole process from /proc/<pid>/stat (main thread, libuv threadpool — where WebCrypto signs and verifies — and GC threads, hence values above 1 core); peak RSS is VmHWM from /proc/<pid>/status, reset before each phase (\`/proc/<pid>/clear_refs\`).${want.has('challenge') ? ' The challenge row counts complete round trips: its latency is the whole round trip (first byte of begin → token response), its CPU is the challenge and token processes together (each apart below the table, with the bench process\'s own CPU from `process.cpuUsage()`, the PostgreSQL backends connected to the bench database — not the WAL writer or checkpointer — and the whole Redis server process from /proc).' : ''}`,
  );
  const report = renderReport({
    date,
    commit,
    machine,
    phases,
    tokenMax,
    tokenRate,
    challenge: challengeReport,
    lifetimePeakRss: { token: lifetimePeak.token, registration: lifetimePeak.registration, challenge: lifetimePeak.challenge },
    notes,
    settings,
  });
  console.log(`\n${resultsTable(phases)}\n`);
  if (challengeReport) console.log(`${challengeSection(challengeReport).join('\n')}\n`);
  if (problems.length > 0) {
    console.error(`\nBENCHMARK FAILED:\n- ${problems.join('\n- ')}\n\ndocs/benchmarks.md was not updated.`);
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
