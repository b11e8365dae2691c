import { generateClientKeyPair } from '@fpa/crypto';
import { prepareRounds, runChallengeRoundTrips } from './challenge-flow';
import { DPOP_PROOF_MAX_AGE_SECONDS, emptyGroup, NONCE_WINDOW_SECONDS, SAFETY_MS, type BenchContext, type GroupResult } from './context';
import { fetchNonce } from './device-flow';
import { PHASE_GROUPS } from './options';
import { checkRoundTrips, describeChallenge, fmt, measuredWithStores } from './phases';
import type { ChallengePhaseReport } from './report';

/**
 * The email-OTP challenge round trip (issue 3) on the challenge process: begin → the code from the
 * SMTP sink → answer → the code exchange at the token process, closed loop.
 */

/** The public first-party client of the challenge phase (issue 3): it only holds the code grant (and refresh tokens). */
export const CHALLENGE_CLIENT_ID = 'bench-challenge-app';
export const CHALLENGE_CLIENT = {
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
export const CHALLENGE_ENV = {
  CHALLENGE_METHODS: 'email_otp',
  CHALLENGE_RATE_LIMIT_IP: '10000000',
  CHALLENGE_RATE_LIMIT_SESSION: '10000000',
  CHALLENGE_RATE_LIMIT_DESTINATION: '10000000',
  CHALLENGE_RESEND_SECONDS: '0',
  SEND_BUDGET_EMAIL_PER_CLIENT: '10000000',
  SEND_BUDGET_EMAIL_GLOBAL: '10000000',
} as const;

/** The rate-limit part of CHALLENGE_ENV as the settings list it (`A=1\`, \`B=2`, inside backticks). */
export const challengeLimits = (): string =>
  Object.entries(CHALLENGE_ENV)
    .filter(([k]) => k !== 'CHALLENGE_METHODS')
    .map(([k, v]) => `${k}=${v}`)
    .join('`, `');

/**
 * Keys (and, pre-signed, the proofs) of `count` challenge round trips, with the server nonce fetched
 * just before; pre-signed proofs bound the phase to the nonce/proof acceptance window.
 */
async function prepareChallengePhase(ctx: BenchContext, count: number, label: string): Promise<{ rounds: Awaited<ReturnType<typeof prepareRounds>>['rounds']; nonce: string; validUntil: number }> {
  const { issuer, options } = ctx;
  const nonce = await fetchNonce(issuer, await generateClientKeyPair('ES256'));
  const nonceFetchedAt = Date.now();
  const tag = `${label.replace(/[^a-z0-9]/gi, '')}.${process.pid}.${Date.now().toString(36)}`;
  const prepared = await prepareRounds(issuer, count, tag, options.challengeSigning, nonce);
  const signed = options.challengeSigning === 'presigned' ? `, pre-signed ${fmt(count * 3)} DPoP proofs in ${prepared.signSeconds.toFixed(1)} s` : ' (proofs signed live)';
  ctx.log(`${label}: generated ${fmt(count)} DPoP keys in ${prepared.keySeconds.toFixed(1)} s${signed}`);
  const validUntil =
    prepared.oldestIatMs === undefined ? Number.POSITIVE_INFINITY : Math.min(nonceFetchedAt + NONCE_WINDOW_SECONDS * 1000, prepared.oldestIatMs + DPOP_PROOF_MAX_AGE_SECONDS * 1000) - SAFETY_MS;
  return { rounds: prepared.rounds, nonce, validUntil };
}

/** Warm-up, then the measured closed-loop phase. */
export async function runChallengePhases(ctx: BenchContext): Promise<GroupResult & { challenge: ChallengePhaseReport | undefined }> {
  const { options, issuer, token, log } = ctx;
  const out = { ...emptyGroup(), challenge: undefined as ChallengePhaseReport | undefined };
  if (!options.phases.has('challenge')) return out;
  const challengeWarmup = Math.min(500, Math.max(options.challengeConcurrency * 4, Math.ceil(options.challengeRounds / 10)));
  log(await ctx.createClient(CHALLENGE_CLIENT));
  const { app: challenge, sink: codeSink } = await ctx.challengeServer();
  // Any email without a code from here on (warm-up included) fails the run.
  const unparsableBefore = codeSink.unparsable;
  const spec = { challengeUrl: challenge.url, tokenUrl: token.url, issuer, clientId: CHALLENGE_CLIENT_ID, concurrency: options.challengeConcurrency, sink: codeSink, signing: options.challengeSigning };

  // Warm-up (JIT, the SMTP pool, PostgreSQL and Redis connections of the challenge process), not reported.
  {
    const { rounds, nonce, validUntil } = await prepareChallengePhase(ctx, challengeWarmup, 'challenge warm-up');
    const w = await runChallengeRoundTrips({ ...spec, title: 'challenge warm-up', rounds, nonce, stopAt: Math.min(validUntil, Date.now() + options.maxPhaseSeconds * 1000) });
    log(describeChallenge(w));
    const failures = checkRoundTrips(w);
    if (failures.length > 0) throw new Error(`the warm-up challenge round trips fail: ${failures.join('; ')}\n${challenge.output().slice(-4000)}\n${token.output().slice(-2000)}`);
  }

  // Max throughput, closed loop.
  {
    const { rounds, nonce, validUntil } = await prepareChallengePhase(ctx, options.challengeRounds, 'challenge');
    const stopAt = Math.min(Date.now() + options.maxPhaseSeconds * 1000, validUntil);
    if (stopAt - Date.now() < 5_000) throw new Error('pre-signing took so long that the nonce/proof window leaves under 5 s to run; lower BENCH_CHALLENGE_ROUNDS or use BENCH_CHALLENGE_SIGNING=live');
    const title = 'Challenge round trip: email OTP begin + answer + code exchange (max throughput; round trips/s)';
    const c: ChallengePhaseReport = await measuredWithStores(ctx, [challenge, token], () => runChallengeRoundTrips({ ...spec, title, rounds, nonce, stopAt }));
    log(describeChallenge(c));
    out.problems.push(...checkRoundTrips(c));
    if (codeSink.unparsable > unparsableBefore) out.problems.push(`${title}: ${codeSink.unparsable - unparsableBefore} emails held no code`);
    out.reports.push(c);
    out.challenge = c;
  }

  out.settings.push(
    `Challenge phase (issue 3): ${fmt(options.challengeRounds)} email-OTP round trips (\`BENCH_CHALLENGE_ROUNDS\`) from ${options.challengeConcurrency} concurrent closed-loop clients (\`BENCH_CHALLENGE_CONCURRENCY\`), bounded by ${options.maxPhaseSeconds} s${options.challengeSigning === 'presigned' ? ' and by the nonce/proof acceptance window' : ''}, after ${fmt(challengeWarmup)} unreported warm-up round trips. Each round trip has its own fresh EC P-256 DPoP key (generated before the phase), PKCE verifier and \`login_hint\` (a new address, so every answer creates a user): begin → the code from the SMTP sink → answer → \`POST /token\` \`grant_type=authorization_code\` with \`client_id\`, \`code_verifier\` and a proof by the same key. The challenge requests go to the challenge process with \`htu\` = ISSUER/authorize-challenge; the nonce is the token process's (one \`DPOP_NONCE_SECRET\` and ISSUER for both). Every proof has its own \`jti\`; ${options.challengeSigning === 'presigned' ? 'all three proofs of every round trip are signed before the phase with the nonce fetched just before it (`BENCH_CHALLENGE_SIGNING=presigned`; `live` signs each one just before its request)' : 'each proof is signed just before its request with the newest nonce the servers sent (`BENCH_CHALLENGE_SIGNING=live`)'}; a \`use_dpop_nonce\` answer is repeated once with a fresh proof. The driver is node:http with one keep-alive agent per server (fetch costs about five times the client CPU per request). A round trip fails at the first unexpected answer (or a 10 s timeout); more than 0.5 % failed round trips fail the run. Skip or isolate phases with \`BENCH_ONLY\` / \`BENCH_SKIP\` (${PHASE_GROUPS.join(', ')}).`,
    `Challenge process: \`CHALLENGE_METHODS=email_otp\`, \`SMTP_URL\` = a real SMTP server (smtp-server, no TLS, no AUTH) inside the bench process, which answers each message's DATA only after taking its code, so "begin" includes the delivery as the client sees it; \`${challengeLimits()}\` (all from one IP, to unique addresses); every other challenge setting at its default (the SMTP pool's 5 connections, \`OTP_LENGTH=6\`, …).`,
    `Challenge client: \`${JSON.stringify(CHALLENGE_CLIENT)}\` (created with the CLI; \`refresh_token\`, so every code exchange also inserts a refresh token).`,
  );
  return out;
}
