import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkStores, createDatabase, deleteRedisPrefix, freePort, PRODUCTION_NODE_ARGS, redact, ROOT, runCli, spawnApp, type AppProcess } from '@fpa/testing';
import { COMPARISON_SPECS, comparisonSettings, OUR_CLIENTS } from './compare-setup';
import { expectTokenBody, makeOpClients, opServerConfig, resourceOf, seedOpRefreshTokens, signOpRequests, signOurRequests, type OpClient } from './compare-flows';
import { measureRound, startOidcProvider, type MeasuredProcess, type OidcProviderProcess, type StoreTarget } from './compare-measure';
import { CompareHelp, CompareOptionsError, nonDefaults, parseCompareOptions, type CompareOptions, type ComparisonId } from './compare-options';
import { mergeComparison, METRICS, pacedRate, renderComparison, show, summarize, type ComparisonResult, type PacedComparison, type RoundPair, type ServerRound } from './compare-report';
import { benchAppEnv, DPOP_PROOF_MAX_AGE_SECONDS, NONCE_WINDOW_SECONDS, SAFETY_MS } from './context';
import { registerDevices, type Device, type PreparedRequest } from './device-flow';
import { runMaxThroughput, runPaced, type PhaseResult } from './load';
import { abortThroughCleanup, checkPhase, Cleanup, fmt } from './phases';
import { gitCommit, machineInfo, type PhaseReport } from './report';

/**
 * `npm run bench:compare` (issue 13, goal 1): our token process (production mode, PostgreSQL and
 * Redis) side by side with node-oidc-provider configured for its closest equivalent, one load
 * driver (autocannon, this process), rounds alternated A B A B …, the median of per-round ratios;
 * the section "Comparison with node-oidc-provider" of docs/benchmarks.md is replaced by each run
 * that succeeds. Any round above 0.5 % non-2xx fails the run (exit 1) and leaves the file alone.
 */

const DOCS = join(ROOT, 'docs', 'benchmarks.md');
const ACCESS_TOKEN_TTL_SECONDS = 600;
const REFRESH_TOKEN_TTL_SECONDS = 2_592_000;

const t0 = performance.now();
const log = (msg: string): void => console.log(`[compare ${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${msg}`);

/** One side of a comparison: its process, and how to pre-sign `count` requests for it. */
interface Side {
  readonly label: 'first-party-auth' | 'node-oidc-provider';
  readonly server: MeasuredProcess;
  readonly stores: StoreTarget | undefined;
  prepare(count: number): Promise<{ requests: PreparedRequest[]; validUntil: number }>;
}

function ourSide(token: AppProcess, stores: StoreTarget, clientId: string, devices: readonly Device[]): Side {
  return {
    label: 'first-party-auth',
    server: token,
    stores,
    async prepare(count) {
      const { requests, nonceFetchedAt, oldestIatMs } = await signOurRequests(token.url, clientId, devices, count);
      return { requests, validUntil: Math.min(nonceFetchedAt + NONCE_WINDOW_SECONDS * 1000, oldestIatMs + DPOP_PROOF_MAX_AGE_SECONDS * 1000) - SAFETY_MS };
    },
  };
}

function theirSide(op: OidcProviderProcess, clients: readonly OpClient[], controlSecret: string, refresh: boolean): Side {
  return {
    label: 'node-oidc-provider',
    server: op,
    stores: undefined,
    async prepare(count) {
      const tokens = refresh ? await seedOpRefreshTokens(op.url, controlSecret, count) : undefined;
      const { requests, nonceFetchedAt } = await signOpRequests(op.url, clients, count, tokens);
      // Its nonces stay valid for two 60 s steps after the one they are minted for; ours for one window.
      return { requests, validUntil: nonceFetchedAt + NONCE_WINDOW_SECONDS * 1000 - SAFETY_MS };
    },
  };
}

/** Pre-signs, then drives `amount` requests at `side` over the connections, as fast as it answers. */
async function drive(side: Side, title: string, options: CompareOptions, amount: number): Promise<{ run: () => Promise<PhaseResult> }> {
  const started = performance.now();
  const { requests, validUntil } = await side.prepare(amount + options.connections + Math.ceil(amount * 0.01));
  log(`${title}: pre-signed ${fmt(requests.length)} requests in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const stopAt = Math.min(Date.now() + options.maxRoundSeconds * 1000, validUntil);
  if (stopAt - Date.now() < 5_000) throw new Error(`${title}: pre-signing left under 5 s of the nonce/proof window; lower --n`);
  return { run: () => runMaxThroughput(title, side.server.url, '/token', requests, options.connections, amount, stopAt) };
}

/** Sockets of the paced open-loop client (ample: at the rates measured here only a handful are busy). */
const PACED_CONNECTIONS = 64;

/**
 * Issue 13 goal 2: after the closed-loop rounds, each server at the same fixed offered rate —
 * `--paced-percent` (default 80) % of our median throughput — from the light paced client (runPaced: request i
 * sent at start + i / rate, latency from that scheduled time), pre-signed just before.
 */
async function pacedRound(side: Side, title: string, rate: number, seconds: number): Promise<{ result: PhaseResult; round: ServerRound }> {
  const started = performance.now();
  const { requests, validUntil } = await side.prepare(rate * seconds + PACED_CONNECTIONS);
  log(`${title}: pre-signed ${fmt(requests.length)} requests in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const needed = seconds * 1000 + 3_000;
  if (validUntil - Date.now() < needed) throw new Error(`${title}: pre-signing left under ${needed / 1000} s of the nonce/proof window; lower --paced-seconds`);
  const stopAt = Math.min(Date.now() + needed + 5_000, validUntil);
  return measureRound(side.server, side.stores, () => runPaced(title, side.server.url, '/token', requests, rate, seconds, stopAt, PACED_CONNECTIONS));
}

const describeRound = (title: string, result: PhaseResult, round: ServerRound): string =>
  `${title}: ${fmt(result.completed)} in ${result.seconds.toFixed(1)} s = ${fmt(result.rps)} req/s, p50 ${result.latency.p50.toFixed(1)} / p99 ${result.latency.p99.toFixed(1)} ms, ` +
  `server CPU ${round.serverCpuMs === undefined ? '–' : (round.serverCpuMs / Math.max(1, result.completed)).toFixed(2)} ms/req, peak RSS ${round.peakRssBytes === undefined ? '–' : (round.peakRssBytes / 2 ** 20).toFixed(0)} MiB, ` +
  `non-2xx ${result.non2xx}, errors ${result.errors}, rest of the machine ${round.otherCores?.toFixed(2) ?? '–'} cores`;

/** The failures of one round: more than 0.5 % non-2xx or errors, a wrong 2xx body, a feed that ran dry. */
function judge(result: PhaseResult, side: Side, withRefreshToken: boolean): string[] {
  const report: PhaseReport = { ...result, server: side.label, serverCpuMs: undefined, serverPeakRssBytes: undefined };
  return checkPhase(report, expectTokenBody(withRefreshToken));
}

async function runComparison(id: ComparisonId, ours: Side, theirs: Side, options: CompareOptions, problems: string[]): Promise<ComparisonResult> {
  const spec = COMPARISON_SPECS[id];
  if (options.warmup > 0) {
    for (const side of [ours, theirs]) {
      const { run } = await drive(side, `${id} warm-up, ${side.label}`, options, options.warmup);
      const w = await run();
      log(`${id} warm-up, ${side.label}: ${fmt(w.completed)} requests, ${fmt(w.rps)} req/s, non-2xx ${w.non2xx}, errors ${w.errors}`);
      const failures = judge(w, side, spec.withRefreshToken);
      if (failures.length > 0) throw new Error(`the warm-up fails, so the rounds would too:\n- ${failures.join('\n- ')}\n${side.server.output().slice(-3000)}`);
    }
  }
  const pairs: RoundPair[] = [];
  for (let i = 1; i <= options.rounds; i++) {
    const measured: Partial<Record<Side['label'], RoundPair['ours']>> = {};
    for (const side of [ours, theirs]) {
      const title = `${id} round ${i} ${side === ours ? 'A' : 'B'}, ${side.label}`;
      const { run } = await drive(side, title, options, options.n);
      const { result, round } = await measureRound(side.server, side.stores, run);
      log(describeRound(title, result, round));
      const failures = judge(result, side, spec.withRefreshToken);
      // The server's own words on the first refusals (node-oidc-provider logs why it refused).
      if (failures.length > 0) failures.push(`${side.label}'s output, last lines:\n${side.server.output().slice(-2000)}`);
      problems.push(...failures);
      measured[side.label] = round;
    }
    pairs.push({ ours: measured['first-party-auth']!, theirs: measured['node-oidc-provider']! });
  }
  let paced: PacedComparison | undefined;
  if (options.pacedSeconds > 0) {
    const rate = pacedRate(pairs, options.pacedPercent);
    const measured: Partial<Record<Side['label'], ServerRound>> = {};
    for (const side of [ours, theirs]) {
      const title = `${id} fixed rate ${fmt(rate)} req/s, ${side.label}`;
      const { result, round } = await pacedRound(side, title, rate, options.pacedSeconds);
      log(describeRound(title, result, round));
      const failures = judge(result, side, spec.withRefreshToken);
      if (failures.length > 0) failures.push(`${side.label}'s output, last lines:\n${side.server.output().slice(-2000)}`);
      problems.push(...failures);
      measured[side.label] = round;
    }
    paced = { offeredRate: rate, percent: options.pacedPercent, seconds: options.pacedSeconds, ours: measured['first-party-auth']!, theirs: measured['node-oidc-provider']! };
  }
  const result: ComparisonResult = { id, title: spec.title, oursDoes: spec.oursDoes, theirsDoes: spec.theirsDoes, pairs, paced };
  summarize(pairs).forEach((row, i) => log(`${id} median: ${row.metric}: ours ${show(row.ours, METRICS[i].fmt)}, theirs ${show(row.theirs, METRICS[i].fmt)}, median ratio ${show(row.medianRatio, (v) => v.toFixed(2))}`));
  return result;
}

async function run(options: CompareOptions, cleanup: Cleanup): Promise<number> {
  const machine = machineInfo();
  const loadStart = loadavg();
  const date = new Date();
  const commit = gitCommit(ROOT);
  log(`machine: ${machine.nproc} CPUs (${machine.cpuModel}), load average ${loadStart.map((l) => l.toFixed(2)).join(' ')}`);

  // --- stores and our token process (as npm run bench starts it) ----------------------------------
  const versions = await checkStores({ databaseUrl: options.adminDatabaseUrl, redisUrl: options.redisUrl, databaseVar: 'BENCH_DATABASE_URL' });
  const db = await createDatabase('cmp', { adminUrl: options.adminDatabaseUrl, prefix: 'fpa' });
  cleanup.add('drop database', async () => {
    await db.drop();
    log(`dropped database ${db.name}`);
  });
  const prefix = `fpa-cmp:${db.name}:`;
  cleanup.add('delete redis keys', async () => log(`deleted ${fmt(await deleteRedisPrefix(options.redisUrl, prefix))} Redis keys under ${prefix}`));
  log(`database ${db.name} on ${redact(options.adminDatabaseUrl)} (PostgreSQL ${versions.postgres}), Redis ${versions.redis} with prefix ${prefix}`);
  const nodeArgs = [...PRODUCTION_NODE_ARGS, ...options.nodeArgs];
  const tokenPort = await freePort();
  const issuer = `http://127.0.0.1:${tokenPort}`;
  const appEnv: Record<string, string> = {
    ...benchAppEnv({ issuer, databaseUrl: db.url, redisUrl: options.redisUrl, redisKeyPrefix: prefix }),
    ACCESS_TOKEN_TTL_SECONDS: String(ACCESS_TOKEN_TTL_SECONDS),
    REFRESH_TOKEN_TTL_SECONDS: String(REFRESH_TOKEN_TTL_SECONDS),
  };
  const token = await spawnApp('token', { ...appEnv, MIGRATIONS_RUN: 'true' }, { port: tokenPort, nodeArgs, readyTimeoutMs: 45_000, outputLimit: 64 * 1024 });
  cleanup.add('stop token process', () => token.stop({ graceMs: 10_000 }));
  log(`token process ${token.pid} ready at ${token.url} (migrations applied)`);

  // --- devices, registered through a registration process that is stopped before any round ------
  const devices = new Map<ComparisonId, Device[]>();
  {
    const registration = await spawnApp('registration', appEnv, { nodeArgs, readyTimeoutMs: 45_000, outputLimit: 64 * 1024 });
    try {
      for (const id of options.comparisons) {
        const client = OUR_CLIENTS[id];
        const created = await runCli(['client', 'create', JSON.stringify(client)], appEnv);
        if (created.code !== 0) throw new Error(`client create ${client.client_id} failed (exit ${created.code}):\n${created.output}`);
        devices.set(id, await registerDevices(registration.url, client.client_id, options.devices));
        log(`registered ${fmt(options.devices)} devices of ${client.client_id}`);
      }
    } finally {
      await registration.stop({ graceMs: 10_000 });
    }
  }

  // --- node-oidc-provider ---------------------------------------------------------------------------
  const opClients = await makeOpClients(options.devices);
  const dir = mkdtempSync(join(tmpdir(), 'fpa-compare-'));
  cleanup.add('remove the node-oidc-provider configuration', async () => rmSync(dir, { recursive: true, force: true }));
  const opPort = await freePort();
  // Both servers' access tokens are for `<issuer>/resources` (ours: its default audience).
  const opConfig = await opServerConfig(opClients, resourceOf(`http://127.0.0.1:${opPort}`), { accessTokenTtlSeconds: ACCESS_TOKEN_TTL_SECONDS, refreshTokenTtlSeconds: REFRESH_TOKEN_TTL_SECONDS });
  const configFile = join(dir, 'oidc-provider.json');
  writeFileSync(configFile, JSON.stringify(opConfig), { mode: 0o600 });
  const op = await startOidcProvider(configFile, opPort, nodeArgs);
  cleanup.add('stop node-oidc-provider', () => op.stop());
  log(`node-oidc-provider ${opVersion()} (pid ${op.pid}) ready at ${op.url} with ${fmt(opClients.length)} clients`);

  // --- the comparisons ------------------------------------------------------------------------------
  const stores: StoreTarget = { adminUrl: options.adminDatabaseUrl, dbName: db.name, redisUrl: options.redisUrl };
  const problems: string[] = [];
  const comparisons: ComparisonResult[] = [];
  for (const id of options.comparisons) {
    const ours = ourSide(token, stores, OUR_CLIENTS[id].client_id, devices.get(id)!);
    const theirs = theirSide(op, opClients, opConfig.controlSecret, COMPARISON_SPECS[id].withRefreshToken);
    comparisons.push(await runComparison(id, ours, theirs, options, problems));
  }
  const loadEnd = loadavg();
  log(`load average at the end ${loadEnd.map((l) => l.toFixed(2)).join(' ')}`);

  // --- report -----------------------------------------------------------------------------------------
  const section = renderComparison({
    date,
    commit,
    machine,
    loadStart,
    loadEnd,
    comparisons,
    nonDefaults: nonDefaults(options),
    settings: comparisonSettings({ options, postgres: versions.postgres, redis: versions.redis, opVersion: opVersion(), autocannonVersion: packageVersion('autocannon') }),
  });
  console.log(`\n${section}`);
  if (problems.length > 0) {
    console.error(`\nBENCHMARK FAILED:\n- ${problems.join('\n- ')}\n\ndocs/benchmarks.md was not updated.`);
    return 1;
  }
  if (!options.writeDocs) {
    log('docs/benchmarks.md not updated (--only runs leave it alone unless --write-docs; --no-write-docs)');
    return 0;
  }
  writeFileSync(DOCS, mergeComparison(existsSync(DOCS) ? readFileSync(DOCS, 'utf8') : undefined, section));
  log(`wrote the comparison section of ${DOCS}`);
  return 0;
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '(unknown version)';
  }
}
const opVersion = (): string => packageVersion('oidc-provider');

async function main(): Promise<void> {
  let options: CompareOptions;
  try {
    options = parseCompareOptions(process.argv.slice(2), process.env);
  } catch (e) {
    if (e instanceof CompareHelp) {
      console.log(e.message);
      process.exit(0);
    }
    console.error(e instanceof CompareOptionsError ? e.message : String(e));
    process.exit(2);
  }
  const cleanup = new Cleanup();
  abortThroughCleanup(cleanup, 'compare');
  let code = 1;
  try {
    code = await run(options, cleanup);
  } catch (e) {
    console.error(`\n[compare] FAILED: ${(e as Error).stack ?? String(e)}`);
    code = 1;
  } finally {
    await cleanup.run();
  }
  process.exit(code);
}

void main();
