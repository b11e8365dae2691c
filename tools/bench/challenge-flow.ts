import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createDpopProof, generateClientKeyPair, randomToken, s256CodeChallenge, type ClientKeyPair } from '@fpa/crypto';
import { ChallengeClient, keepAlivePoster, type FormResponse, type NonceSlot } from '@fpa/testing';
import { mapConcurrent } from './device-flow';
import { summarize, type LatencySummary, type PhaseResult } from './load';
import type { CodeSink } from './smtp-sink';

/**
 * The issue-3 round trip, closed loop: each of N workers repeats begin (`POST /authorize-challenge`
 * with client_id, response_type=code, an S256 code_challenge and a unique login_hint → 403
 * insufficient_authorization code_sent) → the code from the SMTP sink → answer (auth_session +
 * code → 200 authorization_code) → `POST /token` grant_type=authorization_code with the
 * code_verifier and a DPoP proof by the same key → 200 DPoP tokens. The answer depends on the
 * emailed code, so autocannon (pre-built requests) cannot drive it.
 */

export const CHALLENGE_PATH = '/authorize-challenge';
export const STEPS = ['begin', 'answer', 'token'] as const;
export type Step = (typeof STEPS)[number];

/**
 * How the DPoP proofs are made: all signed before the timed phase, or each right before its request
 * (≈ 60–80 µs of bench-process CPU per ES256 proof, three per round trip, taken from the servers' cores).
 */
export type ProofSigning = 'presigned' | 'live';

/** What one round trip needs that does not depend on the server: a fresh DPoP key, PKCE, a unique address. */
export interface RoundMaterial {
  readonly key: ClientKeyPair;
  readonly verifier: string;
  readonly codeChallenge: string;
  readonly email: string;
  /** Pre-signed proofs for begin, answer and token (presigned mode). */
  readonly proofs?: readonly [string, string, string];
}

export interface PreparedRounds {
  readonly rounds: RoundMaterial[];
  /** `iat` of the oldest pre-signed proof, ms (presigned mode). */
  readonly oldestIatMs: number | undefined;
  readonly keySeconds: number;
  readonly signSeconds: number;
}

/** Fresh EC P-256 DPoP keys, one per round, and — presigned — the three proofs of each round with `nonce`. */
export async function prepareRounds(issuer: string, count: number, emailTag: string, signing: ProofSigning, nonce: string): Promise<PreparedRounds> {
  let started = performance.now();
  const keys = await mapConcurrent(count, 64, () => generateClientKeyPair('ES256'));
  const keySeconds = (performance.now() - started) / 1000;
  started = performance.now();
  const oldestIatMs = Math.floor(Date.now() / 1000) * 1000;
  const challengeHtu = `${issuer}${CHALLENGE_PATH}`;
  const tokenHtu = `${issuer}/token`;
  const rounds = await mapConcurrent(count, 64, async (i): Promise<RoundMaterial> => {
    const key = keys[i];
    const verifier = randomToken(32);
    const base = { key, verifier, codeChallenge: s256CodeChallenge(verifier), email: `u${i}.${emailTag}@bench.example.com` };
    if (signing === 'live') return base;
    const proofs = await Promise.all([
      createDpopProof(key, { htm: 'POST', htu: challengeHtu, nonce }),
      createDpopProof(key, { htm: 'POST', htu: challengeHtu, nonce }),
      createDpopProof(key, { htm: 'POST', htu: tokenHtu, nonce }),
    ]);
    return { ...base, proofs };
  });
  return { rounds, oldestIatMs: signing === 'presigned' ? oldestIatMs : undefined, keySeconds, signSeconds: (performance.now() - started) / 1000 };
}

export interface ChallengeRunSpec {
  readonly title: string;
  /** The challenge process (where requests go); proofs name `issuer` + path (the external URL). */
  readonly challengeUrl: string;
  /** The token process. */
  readonly tokenUrl: string;
  readonly issuer: string;
  readonly clientId: string;
  readonly rounds: readonly RoundMaterial[];
  readonly concurrency: number;
  /** No round starts after this (epoch ms); rounds in flight finish. */
  readonly stopAt: number;
  readonly sink: CodeSink;
  readonly signing: ProofSigning;
  /** The server nonce to put in live-signed proofs (replaced by each DPoP-Nonce the servers send). */
  readonly nonce: string;
  readonly requestTimeoutMs?: number;
}

export interface StepStats {
  readonly completed: number;
  readonly latency: LatencySummary;
}

export interface ChallengeRunResult extends PhaseResult {
  /** Per step; `begin` runs from sending the request to holding both the 403 and the emailed code. */
  readonly steps: Readonly<Record<Step, StepStats>>;
  readonly roundsStarted: number;
  /** Unexpected answers per "step status" (e.g. `answer 400`), and up to three bodies of each. */
  readonly unexpected: ReadonlyMap<string, number>;
  readonly unexpectedSamples: ReadonlyMap<string, string[]>;
  /** Requests repeated after a `use_dpop_nonce` answer (a fresh live-signed proof with the new nonce). */
  readonly nonceRetries: number;
  readonly emailsReceived: number;
  /** CPU time of the bench process (driver, proofs signed live, SMTP sink) during the phase, ms. */
  readonly clientCpuMs: number;
  /** Event-loop delay of the bench process during the phase, ms (a busy client would queue its own work). */
  readonly clientLoopDelayP99Ms: number;
}

class StepFailure extends Error {
  constructor(
    readonly key: string,
    readonly body: string,
    readonly connection: boolean,
  ) {
    super(key);
  }
}

export async function runChallengeRoundTrips(spec: ChallengeRunSpec): Promise<ChallengeRunResult> {
  const timeoutMs = spec.requestTimeoutMs ?? 10_000;
  // Keep-alive node:http, not fetch: on the 2-core VM fetch cost about five times the client CPU per
  // request, CPU the servers need. The agent pools per server; a worker has one request in flight.
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.concurrency });
  const post = keepAlivePoster(agent, timeoutMs);
  // Every round trip signs live proofs with the newest nonce any server sent.
  const nonces: NonceSlot = { value: spec.nonce };
  let nonceRetries = 0;
  const latencies: Record<Step | 'round', number[]> = { begin: [], answer: [], token: [], round: [] };
  const unexpected = new Map<string, number>();
  const unexpectedSamples = new Map<string, string[]>();
  const statuses = new Map<number, number>();
  const samples = new Map<number, string[]>();
  let non2xx = 0;
  let errors = 0;
  let timeouts = 0;
  let completed = 0;
  let next = 0;
  let lastDoneMs = 0;

  const fail = (key: string, body: string, connection = false): never => {
    throw new StepFailure(key, body, connection);
  };

  /** One request of a round; the client repeats a `use_dpop_nonce` answer once with a live proof carrying the new nonce. */
  const step = async (name: Step, request: Promise<FormResponse>): Promise<FormResponse> => {
    try {
      return await request;
    } catch (e) {
      return fail(`${name} ${/timeout/.test((e as Error).message) ? 'timeout' : 'connection error'}`, (e as Error).message, true);
    }
  };

  const runRound = async (round: RoundMaterial): Promise<void> => {
    const client = new ChallengeClient(spec.issuer, round.key, undefined, {
      baseUrl: spec.challengeUrl,
      tokenBaseUrl: spec.tokenUrl,
      verifier: round.verifier,
      nonces,
      post,
      onNonceRetry: () => nonceRetries++,
    });
    const proof = (i: number): { proof?: string } => (spec.signing === 'presigned' ? { proof: round.proofs![i] } : {});
    const t0 = performance.now();
    const begin = await step('begin', client.send({ client_id: spec.clientId, response_type: 'code', code_challenge: round.codeChallenge, code_challenge_method: 'S256', login_hint: round.email }, proof(0)));
    const b = begin.body;
    if (begin.status !== 403 || b.error !== 'insufficient_authorization' || b.status !== 'code_sent' || typeof b.auth_session !== 'string') fail(`begin ${begin.status}`, begin.text);
    let code: string;
    try {
      code = await spec.sink.code(round.email, timeoutMs);
    } catch (e) {
      return fail('begin no email', (e as Error).message);
    }
    const t1 = performance.now();
    const answer = await step('answer', client.send({ code }, proof(1)));
    const a = answer.body;
    if (answer.status !== 200 || typeof a.authorization_code !== 'string') fail(`answer ${answer.status}`, answer.text);
    const t2 = performance.now();
    const token = await step('token', client.redeem(a.authorization_code as string, { client_id: spec.clientId }, {}, undefined, proof(2)));
    const t = token.body;
    if (token.status !== 200 || typeof t.access_token !== 'string' || t.token_type !== 'DPoP') fail(`token ${token.status}`, token.text);
    const t3 = performance.now();
    latencies.begin.push(t1 - t0);
    latencies.answer.push(t2 - t1);
    latencies.token.push(t3 - t2);
    latencies.round.push(t3 - t0);
    completed++;
    lastDoneMs = t3;
    if (samples.size === 0) samples.set(200, [token.text.slice(0, 2000)]);
  };

  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const emailsBefore = spec.sink.received;
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const worker = async (): Promise<void> => {
    while (next < spec.rounds.length && Date.now() < spec.stopAt) {
      const round = spec.rounds[next++];
      try {
        await runRound(round);
      } catch (e) {
        if (!(e instanceof StepFailure)) throw e;
        spec.sink.forget(round.email);
        unexpected.set(e.key, (unexpected.get(e.key) ?? 0) + 1);
        const list = unexpectedSamples.get(e.key) ?? [];
        if (list.length < 3) unexpectedSamples.set(e.key, [...list, e.body.slice(0, 2000)]);
        if (e.connection) {
          errors++;
          if (e.key.endsWith('timeout')) timeouts++;
        } else {
          non2xx++;
          const status = Number(/ (\d{3})$/.exec(e.key)?.[1] ?? 0);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          const s = samples.get(status) ?? [];
          if (s.length < 3) samples.set(status, [...s, `${e.key}: ${e.body.slice(0, 2000)}`]);
        }
        lastDoneMs = performance.now();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(spec.concurrency, spec.rounds.length) }, worker));
  const cpu = process.cpuUsage(cpuBefore);
  loopDelay.disable();
  agent.destroy();

  const seconds = Math.max(1e-3, ((lastDoneMs || performance.now()) - start) / 1000);
  if (completed > 0) statuses.set(200, completed);
  const stepStats = (s: Step): StepStats => ({ completed: latencies[s].length, latency: summarize(latencies[s]) });
  return {
    title: spec.title,
    connections: spec.concurrency,
    offeredRate: undefined,
    planned: spec.rounds.length,
    completed,
    seconds,
    rps: completed / seconds,
    latency: summarize(latencies.round),
    non2xx,
    errors,
    timeouts,
    statuses,
    samples,
    timeBound: next < spec.rounds.length,
    feedExhausted: 0,
    steps: { begin: stepStats('begin'), answer: stepStats('answer'), token: stepStats('token') },
    roundsStarted: next,
    unexpected,
    unexpectedSamples,
    nonceRetries,
    emailsReceived: spec.sink.received - emailsBefore,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
    clientLoopDelayP99Ms: loopDelay.percentile(99) / 1e6,
  };
}
