import { DPOP_PROOF_MAX_AGE_SECONDS, emptyGroup, finish, NONCE_WINDOW_SECONDS, SAFETY_MS, type BenchContext, type GroupResult } from './context';
import { devicePublicKeys, fetchNonce, registerDevices, registrationRequest, signTokenRequests, type Device, type PreparedRequest } from './device-flow';
import { runFixedRate, runMaxThroughput, runPaced } from './load';
import { fmt, isRegistrationResponse, isTokenResponse, MAX_FAILURE_RATIO, measured } from './phases';
import { failureRatio } from './report';
import { sampleStoreCpu, storeCpuBetween } from './stores';

/**
 * The registration and device-grant phases (issue 2): `POST /register` with fresh device keys,
 * then `POST /token` client_credentials with a pre-signed `private_key_jwt` assertion and DPoP
 * proof per request — as fast as the server answers, at a fixed rate from autocannon, and paced.
 */

/** Sockets of the paced open-loop client (ample: at 1,000 req/s and a few ms each, only a handful are busy). */
const PACED_CONNECTIONS = 64;

/** The public first-party client the devices register with and get their grants for. */
export const DEVICE_CLIENT_ID = 'bench-app';
export const DEVICE_CLIENT = {
  client_id: DEVICE_CLIENT_ID,
  name: 'Benchmark app',
  type: 'public',
  first_party: true,
  grant_types: ['fp_register', 'client_credentials', 'refresh_token'],
  auth_methods: ['private_key_jwt', 'none'],
  scopes: ['api'],
  dpop_bound_access_tokens: true,
};

/** Nonce fetched and requests signed just before a token phase; the phase must end while both are accepted. */
export async function prepareTokenPhase(ctx: BenchContext, devices: readonly Device[], count: number, label: string): Promise<{ requests: PreparedRequest[]; validUntil: number }> {
  const nonce = await fetchNonce(ctx.issuer, devices[0].dpopKey);
  const nonceFetchedAt = Date.now();
  const started = performance.now();
  const batch = await signTokenRequests(ctx.issuer, DEVICE_CLIENT_ID, devices, nonce, count);
  const took = (performance.now() - started) / 1000;
  ctx.log(`${label}: pre-signed ${fmt(count)} assertion + DPoP proof pairs in ${took.toFixed(1)} s (${fmt(count / took)} pairs/s)`);
  const validUntil = Math.min(nonceFetchedAt + NONCE_WINDOW_SECONDS * 1000, batch.oldestIatMs + DPOP_PROOF_MAX_AGE_SECONDS * 1000) - SAFETY_MS;
  return { requests: batch.requests, validUntil };
}

/** The registration phase and the three device-grant phases, as far as the run wants them (`ctx.registration` runs when it does). */
export async function runDevicePhases(ctx: BenchContext): Promise<GroupResult> {
  const { options, issuer, token, registration, log } = ctx;
  const want = options.phases;
  const out = emptyGroup();
  if (!registration) return out;

  // --- registration ----------------------------------------------------------------------------
  let devices: Device[] = [];
  if (want.has('token')) {
    const started = performance.now();
    devices = await registerDevices(registration.url, DEVICE_CLIENT_ID, options.devices);
    log(`registered ${fmt(devices.length)} devices for the token phases in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  if (want.has('registration')) {
    const started = performance.now();
    const registrationKeys = await devicePublicKeys(options.registerRequests + options.connections + 16);
    log(`generated ${fmt(registrationKeys.length)} device keys for the registration phase in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const registrationRequests = registrationKeys.map((jwk) => registrationRequest(DEVICE_CLIENT_ID, jwk));
    const storesBefore = await sampleStoreCpu(options.adminDatabaseUrl, ctx.dbName, options.redisUrl);
    const phase = finish(
      out,
      log,
      await measured(registration, () =>
        runMaxThroughput('Registration (max throughput)', registration.url, '/register', registrationRequests, options.connections, options.registerRequests, Date.now() + options.maxPhaseSeconds * 1000),
      ),
      isRegistrationResponse,
    );
    // Where a registration's CPU goes besides the registration process (issue 13): per completed request.
    const stores = storeCpuBetween(storesBefore, await sampleStoreCpu(options.adminDatabaseUrl, ctx.dbName, options.redisUrl));
    const perRequest = (ms: number | undefined): string => (ms === undefined || phase.completed === 0 ? 'n/a' : `${(ms / phase.completed).toFixed(3)} ms`);
    log(`registration CPU per request: registration process ${perRequest(phase.serverCpuMs)}, PostgreSQL backends of the bench database ${perRequest(stores.postgresMs)}, Redis server (whole process, shared) ${perRequest(stores.redisMs)}`);
    registrationRequests.length = 0;
    out.settings.push(`Registration phase: ${fmt(options.registerRequests)} requests over ${options.connections} connections, each with its own fresh EC P-256 public key (\`REGISTRATION_RATE_LIMIT=10000000\`).`);
  }
  if (!want.has('token')) return out;

  // --- token: warm-up (JIT, pool connections, the device-key cache), not reported --------------
  const warmup = Math.min(2_000, Math.max(options.connections * 4, options.devices * 2));
  {
    const { requests, validUntil } = await prepareTokenPhase(ctx, devices, warmup + options.connections, 'warm-up');
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
    const { requests, validUntil } = await prepareTokenPhase(ctx, devices, count, 'max throughput');
    const stopAt = Math.min(Date.now() + options.maxPhaseSeconds * 1000, validUntil);
    if (stopAt - Date.now() < 5_000) throw new Error('pre-signing took so long that the nonce/proof window leaves under 5 s to run; lower BENCH_TOKEN_REQUESTS');
    finish(out, log, await measured(token, () => runMaxThroughput('Token, full device grant (max throughput)', issuer, '/token', requests, options.connections, options.tokenRequests, stopAt)), isTokenResponse);
  }

  // --- token: fixed offered rate ---------------------------------------------------------------
  {
    const planned = options.rate * options.rateSeconds;
    const count = planned + Math.ceil(planned * 0.02) + 64;
    const { requests, validUntil } = await prepareTokenPhase(ctx, devices, count, 'fixed rate');
    const needed = options.rateSeconds * 1000 + 3_000;
    if (validUntil - Date.now() < needed) {
      throw new Error(`pre-signing left ${((validUntil - Date.now()) / 1000).toFixed(1)} s of the nonce/proof window; the fixed-rate phase needs ${needed / 1000} s (lower BENCH_RATE or BENCH_DURATION_SECONDS)`);
    }
    const stopAt = Math.min(Date.now() + needed + 5_000, validUntil);
    finish(
      out,
      log,
      await measured(token, () => runFixedRate(`Token, full device grant (${fmt(options.rate)} req/s for ${options.rateSeconds} s)`, issuer, '/token', requests, options.rate, options.rateSeconds, stopAt)),
      isTokenResponse,
    );
  }

  // --- token: the same offered rate from a light open-loop client (64 keep-alive connections) ----
  {
    const planned = options.rate * options.rateSeconds;
    const count = planned + 64;
    const { requests, validUntil } = await prepareTokenPhase(ctx, devices, count, 'paced');
    const needed = options.rateSeconds * 1000 + 3_000;
    if (validUntil - Date.now() < needed) throw new Error('pre-signing left too little of the nonce/proof window for the paced phase');
    const stopAt = Math.min(Date.now() + needed + 5_000, validUntil);
    finish(
      out,
      log,
      await measured(token, () =>
        runPaced(`Token, full device grant (${fmt(options.rate)} req/s for ${options.rateSeconds} s, paced)`, issuer, '/token', requests, options.rate, options.rateSeconds, stopAt, PACED_CONNECTIONS),
      ),
      isTokenResponse,
    );
  }

  out.settings.push(
    `Token phases: ${fmt(options.devices)} devices registered first, each with an EC P-256 device key and a separate EC P-256 DPoP key; requests go round-robin over them. Every request carries its own client assertion (\`device_auth_session\`, unique \`jti\`, \`exp\` = \`iat\` + 240 s) and DPoP proof (unique \`jti\`, \`htm\` POST, \`htu\` = ISSUER/token, the server nonce fetched just before the phase), all pre-signed outside the measurement. The client also holds \`refresh_token\`, so every grant inserts a refresh token.`,
    `Warm-up: ${fmt(warmup)} token requests before the measured token phases (not reported).`,
    `Max-throughput phase: ${fmt(options.tokenRequests)} requests over ${options.connections} connections (closed loop), bounded by ${options.maxPhaseSeconds} s and by the nonce/proof acceptance window.`,
    `Paced phase: the same offered rate from a light open-loop client — ${PACED_CONNECTIONS} keep-alive connections, request i sent at start + i/rate by a 1 ms scheduler, latency measured from the scheduled send time (no coordinated omission).`,
    `Fixed-rate phase: ${fmt(options.rate)} req/s offered for ${options.rateSeconds} s, open loop, one request per connection per second; the connections are split over autocannon instances started evenly across the first second (autocannon's own \`overallRate\` would release each second's requests as one burst).`,
  );
  return out;
}
