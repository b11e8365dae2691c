import { createDpopProof, generateClientKeyPair, randomToken, s256CodeChallenge, type ClientKeyPair } from '@fpa/crypto';
import { ChallengeClient, keepAlivePoster, type NonceSlot } from '@fpa/testing';
import { keepAliveAgent, runClosedLoop, stepRequest, unexpected, type ClosedLoopResult, type RoundTiming } from './closed-loop';
import { mapConcurrent } from './device-flow';
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

export interface ChallengeRunResult extends ClosedLoopResult<Step> {
  /** Requests repeated after a `use_dpop_nonce` answer (a fresh live-signed proof with the new nonce). */
  readonly nonceRetries: number;
}

export async function runChallengeRoundTrips(spec: ChallengeRunSpec): Promise<ChallengeRunResult> {
  const timeoutMs = spec.requestTimeoutMs ?? 10_000;
  const agent = keepAliveAgent(spec.concurrency);
  const post = keepAlivePoster(agent, timeoutMs);
  // Every round trip signs live proofs with the newest nonce any server sent.
  const nonces: NonceSlot = { value: spec.nonce };
  let nonceRetries = 0;

  /** One round; the client repeats a `use_dpop_nonce` answer once with a live proof carrying the new nonce. */
  const runRound = async (round: RoundMaterial): Promise<RoundTiming<Step>> => {
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
    const begin = await stepRequest('begin', client.send({ client_id: spec.clientId, response_type: 'code', code_challenge: round.codeChallenge, code_challenge_method: 'S256', login_hint: round.email }, proof(0)));
    const b = begin.body;
    if (begin.status !== 403 || b.error !== 'insufficient_authorization' || b.status !== 'code_sent' || typeof b.auth_session !== 'string') unexpected(`begin ${begin.status}`, begin.text);
    let code: string;
    try {
      code = await spec.sink.code(round.email, timeoutMs);
    } catch (e) {
      return unexpected('begin no email', (e as Error).message);
    }
    const t1 = performance.now();
    const answer = await stepRequest('answer', client.send({ code }, proof(1)));
    const a = answer.body;
    if (answer.status !== 200 || typeof a.authorization_code !== 'string') unexpected(`answer ${answer.status}`, answer.text);
    const t2 = performance.now();
    const token = await stepRequest('token', client.redeem(a.authorization_code as string, { client_id: spec.clientId }, {}, undefined, proof(2)));
    const t = token.body;
    if (token.status !== 200 || typeof t.access_token !== 'string' || t.token_type !== 'DPoP') unexpected(`token ${token.status}`, token.text);
    const t3 = performance.now();
    return { steps: { begin: t1 - t0, answer: t2 - t1, token: t3 - t2 }, total: t3 - t0, lastBody: token.text };
  };

  try {
    const result = await runClosedLoop({ title: spec.title, steps: STEPS, rounds: spec.rounds, concurrency: spec.concurrency, stopAt: spec.stopAt, sink: spec.sink, emailOf: (r) => r.email, runRound });
    return { ...result, nonceRetries };
  } finally {
    agent.destroy();
  }
}
