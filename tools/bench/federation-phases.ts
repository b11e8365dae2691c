import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDatabase, deleteRedisPrefix, freePort, PRODUCTION_NODE_ARGS, runCli, spawnApp, type AppProcess } from '@fpa/testing';
import { CHALLENGE_ENV, challengeLimits } from './challenge-phases';
import { DPOP_PROOF_MAX_AGE_SECONDS, emptyGroup, type BenchContext, type GroupResult } from './context';
import { prepareLogins, ROUTE_ANSWER, ROUTE_PARAM, runFederatedLogins, type FederationRunResult, type Variant } from './federation-flow';
import type { FederatedPhaseReport, LocalPhaseReport } from './federation-report';
import { checkRoundTrips, describeRoundTrips, fmt, measuredAll } from './phases';
import type { ProcessUsage } from './report';
import { histogramDelta, readServerHistograms, serverTimeRows } from './server-metrics';
import { startCodeSink, type CodeSink } from './smtp-sink';
import { sampleStoreCpu, storeCpuBetween } from './stores';

/**
 * Issue 10: two standalone suites as processes, each on its own PostgreSQL database and Redis key
 * prefix with its own ISSUER — AS1 (federating: FEDERATION_DOWNSTREAMS_FILE names AS2, its first-party
 * app has a routing policy) and AS2 (downstream: AS1 is a confidential private_key_jwt client whose
 * keys are AS1's /federation/jwks, its callers limited to e-mail OTP) — set up as the e2e tests do,
 * then closed-loop federated logins and, in the same run on the same processes, the same client flow
 * routed `local` (AS1's own e-mail OTP): the difference is what federation adds.
 */

export const FEDERATION_APP_ID = 'bench-fed-app';
/** AS1's client id at AS2. */
const AS1_AT_AS2 = 'as1';

/** AS1's first-party app: one routing round (a select list), AS2 or here. */
export const federatingApp = (as2Issuer: string): Record<string, unknown> => ({
  client_id: FEDERATION_APP_ID,
  name: 'Benchmark app (federation)',
  type: 'public',
  first_party: true,
  auth_methods: ['none'],
  grant_types: ['authorization_code', 'refresh_token'],
  scopes: ['openid'],
  dpop_bound_access_tokens: true,
  routing_policy: {
    rounds: [{ options: { [ROUTE_PARAM]: { title: 'Your bank', values: { [ROUTE_ANSWER.federated]: { name: 'Bank B' }, [ROUTE_ANSWER.local]: { name: 'This app' } } } } }],
    routes: [
      { when: { [ROUTE_PARAM]: ROUTE_ANSWER.federated }, federate: as2Issuer },
      { when: { [ROUTE_PARAM]: ROUTE_ANSWER.local }, local: true },
    ],
  },
});

/** AS1 at AS2 (FED-11): confidential, private_key_jwt with AS1's published assertion key, e-mail OTP only for its callers (FED-16). */
export const as1AtAs2 = (as1Issuer: string): Record<string, unknown> => ({
  client_id: AS1_AT_AS2,
  name: 'Federating suite (benchmark AS1)',
  type: 'confidential',
  auth_methods: ['private_key_jwt'],
  grant_types: ['authorization_code'],
  scopes: ['openid'],
  jwks_uri: `${as1Issuer}/federation/jwks`,
  challenge_policy: { methods: ['email_otp'] },
});

interface Suite {
  readonly app: AppProcess;
  readonly env: Record<string, string>;
  readonly dbName: string;
}

const VARIANTS: readonly { variant: Variant; label: string; title: string }[] = [
  { variant: 'local', label: 'local', title: 'Local login through the routing round: information + route local + email + code + code exchange (max throughput; logins/s)' },
  { variant: 'federated', label: 'federated', title: 'Federated login AS1 → AS2: information + federate + AS2 email OTP + callback + code exchange (max throughput; logins/s)' },
];

export async function runFederationPhases(ctx: BenchContext): Promise<GroupResult & { federation: { federated: FederatedPhaseReport; local: LocalPhaseReport } | undefined }> {
  const { options, log, cleanup } = ctx;
  const out = { ...emptyGroup(), federation: undefined as { federated: FederatedPhaseReport; local: LocalPhaseReport } | undefined };
  if (!options.phases.has('federation')) return out;

  const sink = await startCodeSink();
  cleanup.add('stop federation SMTP sink', () => sink.close());
  const [as1Port, as2Port] = [await freePort(), await freePort()];
  const [as1Issuer, as2Issuer] = [`http://127.0.0.1:${as1Port}`, `http://127.0.0.1:${as2Port}`];
  const dir = mkdtempSync(join(tmpdir(), 'fpa-bench-fed-'));
  cleanup.add('remove federation files', () => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
  const downstreams = join(dir, 'downstreams.json');
  writeFileSync(downstreams, JSON.stringify([{ issuer: as2Issuer, client_id: AS1_AT_AS2, scope: 'openid', trust: { amr: ['otp'], acr: {} } }], null, 2));

  const as2 = await startSuite(ctx, 'as2', as2Port, sink, dir, {});
  log(await createClient(as1AtAs2(as1Issuer), as2.env));
  const as1 = await startSuite(ctx, 'as1', as1Port, sink, dir, { FEDERATION_DOWNSTREAMS_FILE: downstreams });
  log(await createClient(federatingApp(as2Issuer), as1.env));

  const unparsableBefore = sink.unparsable;
  const concurrency = options.federationConcurrency;
  const warmup = Math.min(300, Math.max(concurrency * 4, Math.ceil(options.federationRounds / 10)));
  const tag = (label: string): string => `${label.replace(/[^a-z0-9]/gi, '')}.${process.pid}.${Date.now().toString(36)}`;
  const spec = { home: as1Issuer, clientId: FEDERATION_APP_ID, concurrency, sink };
  const results: Partial<Record<Variant, FederatedPhaseReport | LocalPhaseReport>> = {};

  for (const v of VARIANTS) {
    // Warm-up (JIT, pools, AS2's metadata and JWKS in AS1's cache, AS1's JWKS in AS2's), not reported.
    const wLogins = await prepareLogins(warmup, tag(`${v.label}warm`));
    const w = await runFederatedLogins({ ...spec, variant: v.variant, title: `${v.label} warm-up`, logins: wLogins, stopAt: Date.now() + options.maxPhaseSeconds * 1000 });
    log(describeRoundTrips(w, `nonce retries ${w.nonceRetries}, `));
    const failures = checkRoundTrips(w);
    if (failures.length > 0) throw new Error(`the warm-up ${v.label} logins fail: ${failures.join('; ')}\n${as1.app.output().slice(-4000)}\n${as2.app.output().slice(-3000)}`);

    const logins = await prepareLogins(options.federationRounds, tag(v.label));
    const stopAt = Date.now() + options.maxPhaseSeconds * 1000;
    const r = await measuredTwoSuites(ctx, [as1, as2], () => runFederatedLogins({ ...spec, variant: v.variant, title: v.title, logins, stopAt }));
    log(describeRoundTrips(r, `nonce retries ${r.nonceRetries}, `));
    out.problems.push(...checkRoundTrips(r));
    out.reports.push(r);
    results[v.variant] = r as FederatedPhaseReport | LocalPhaseReport;
  }
  if (sink.unparsable > unparsableBefore) out.problems.push(`federation phases: ${sink.unparsable - unparsableBefore} emails held no code`);
  out.federation = { federated: results.federated as FederatedPhaseReport, local: results.local as LocalPhaseReport };

  out.settings.push(
    `Federation phases (issue 10): ${fmt(options.federationRounds)} logins (\`BENCH_FEDERATION_ROUNDS\`) in each of two variants, from ${concurrency} concurrent closed-loop apps (\`BENCH_FEDERATION_CONCURRENCY\`), bounded by ${options.maxPhaseSeconds} s, each after ${fmt(warmup)} unreported warm-up logins; first the local variant, then the federated one, on the same two processes. Two standalone suites (\`dist/apps/standalone\`), each its own process, PostgreSQL database, Redis key prefix and ISSUER (its own loopback URL): AS1 with \`FEDERATION_DOWNSTREAMS_FILE\` = \`[{"issuer":"<AS2>","client_id":"${AS1_AT_AS2}","scope":"openid","trust":{"amr":["otp"],"acr":{}}}]\`, AS2 with AS1 registered as \`${JSON.stringify(as1AtAs2('<AS1>'))}\`. Both run with \`APP_MODE=embedded\` on the real stores, with explicit \`KEY_ENCRYPTION_KEY\`, \`DPOP_NONCE_SECRET\` and \`MIGRATIONS_RUN=true\`: production mode refuses plain-http downstream issuers and \`jwks_uri\` even on loopback, and the bench serves no TLS; otherwise embedded mode only adds the two demo clients at start-up. Each app process also has \`LOG_LEVEL=warn\`, \`DPOP_PROOF_MAX_AGE_SECONDS=${DPOP_PROOF_MAX_AGE_SECONDS}\`, \`CHALLENGE_METHODS=email_otp\`, \`SMTP_URL\` = one SMTP sink in the bench process for both, and \`${challengeLimits()}\`.`,
    `Federation client flow: the SDK's \`walkNativeAuthorization\` (libs/client-sdk, what \`FirstPartyClient.authorize\` runs) over keep-alive node:http, every login a new app: its own fresh EC P-256 DPoP key (generated before the phase), PKCE verifier and e-mail address (a new user at the server that authenticates, and in the federated variant a new linked identity at AS1). The app's DPoP proofs are signed live with the newest nonce of each server (one nonce per origin, shared by all apps); a \`use_dpop_nonce\` answer is repeated once. \`onInformation\` answers \`${ROUTE_PARAM}=${ROUTE_ANSWER.federated}\` (federate) or \`${ROUTE_PARAM}=${ROUTE_ANSWER.local}\` (local); \`onChallenge\` answers \`method_required\` with \`challenge_type=email_otp\` and the address and \`code_sent\` with the code from the SMTP sink. Scope \`openid\` in both variants; the last step is \`POST /token\` at AS1 (\`client_id\`, \`code_verifier\`, a proof by the app's key). AS1's app: \`${JSON.stringify(federatingApp('<AS2>'))}\` (created with the CLI).`,
  );
  return out;
}

/** One standalone suite: its own database, Redis prefix and secrets, started from dist/ and torn down by the run's cleanup. */
async function startSuite(ctx: BenchContext, name: 'as1' | 'as2', port: number, sink: CodeSink, dir: string, extra: Record<string, string>): Promise<Suite> {
  const { options, log, cleanup } = ctx;
  const db = await createDatabase(`bench${name}`, { adminUrl: options.adminDatabaseUrl, prefix: 'fpa' });
  cleanup.add(`drop ${name} database`, async () => {
    await db.drop();
    log(`dropped database ${db.name}`);
  });
  const prefix = `fpa-bench:${db.name}:`;
  cleanup.add(`delete ${name} redis keys`, async () => log(`deleted ${fmt(await deleteRedisPrefix(options.redisUrl, prefix))} Redis keys under ${prefix}`));
  const env: Record<string, string> = {
    APP_MODE: 'embedded',
    HOST: '127.0.0.1',
    ISSUER: `http://127.0.0.1:${port}`,
    DATA_DIR: join(dir, `${name}-data`),
    DATABASE_URL: db.url,
    REDIS_URL: options.redisUrl,
    REDIS_KEY_PREFIX: prefix,
    MIGRATIONS_RUN: 'true',
    KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
    DPOP_NONCE_SECRET: randomBytes(32).toString('base64url'),
    LOG_LEVEL: 'warn',
    DPOP_PROOF_MAX_AGE_SECONDS: String(DPOP_PROOF_MAX_AGE_SECONDS),
    SMTP_URL: sink.url,
    ...CHALLENGE_ENV,
    ...extra,
  };
  const app = await spawnApp('standalone', env, { port, name, nodeArgs: [...PRODUCTION_NODE_ARGS, ...options.appNodeArgs], readyTimeoutMs: 45_000, outputLimit: 64 * 1024 });
  cleanup.add(`stop ${name} process`, () => app.stop({ graceMs: 10_000 }));
  log(`${name} (standalone) ${app.pid} ready at ${app.url}, database ${db.name}, Redis prefix ${prefix}`);
  return { app, env, dbName: db.name };
}

async function createClient(definition: Record<string, unknown>, env: Record<string, string>): Promise<string> {
  const r = await runCli(['client', 'create', JSON.stringify(definition)], env);
  if (r.code !== 0) throw new Error(`client create ${String(definition.client_id)} failed (exit ${r.code}):\n${r.output}`);
  return r.output.trim();
}

/** Both suites' CPU and peak RSS, and the PostgreSQL backends of both databases and the Redis server, around one phase. */
async function measuredTwoSuites<S extends string>(ctx: BenchContext, suites: readonly Suite[], run: () => Promise<FederationRunResult<S>>) {
  const { adminDatabaseUrl, redisUrl } = ctx.options;
  const sample = () => Promise.all(suites.map((s) => sampleStoreCpu(adminDatabaseUrl, s.dbName, redisUrl)));
  const histograms = () => Promise.all(suites.map((s) => readServerHistograms(s.app.url)));
  const [before, histBefore] = await Promise.all([sample(), histograms()]);
  const measuredRun = await measuredAll(
    suites.map((s) => s.app),
    run,
  );
  const [after, histAfter] = await Promise.all([sample(), histograms()]);
  // The reading before the phase is itself a request: /metrics is left out.
  const serverTimes = suites.flatMap((s, i) => serverTimeRows(s.app.name, histogramDelta(histBefore[i], histAfter[i]), measuredRun.completed)).filter((r) => !r.what.includes('/metrics'));
  const between = suites.map((s, i) => ({ name: s.app.name, ...storeCpuBetween(before[i], after[i]) }));
  const storeUsage: ProcessUsage[] = [
    ...between.map((b) => ({ name: `PostgreSQL backends of ${b.name}'s database`, cpuMs: b.postgresMs, peakRssBytes: undefined })),
    // One Redis server for both prefixes: counted once.
    { name: 'Redis server (the whole process)', cpuMs: between[0].redisMs, peakRssBytes: undefined },
  ].filter((u) => u.cpuMs !== undefined);
  return { ...measuredRun, storeUsage, serverTimes };
}
