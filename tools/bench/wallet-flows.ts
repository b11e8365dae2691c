import type http from 'node:http';
import { ChallengeClient, keepAlivePoster, type NonceSlot } from '@fpa/testing';
import type { FormResponse } from '@fpa/testing';
import type { TestWallet } from '@fpa/verifier/testing';
import { summarize } from './load';
import { routedFetch } from './wallet-server';
import { failureKind, isPendingPoll, walletDelayMs, type WalletLoadReport } from './wallet-stats';

/**
 * Issue 11's load: `flows` concurrent cross-device flows, each one: begin (`POST /authorize-challenge`,
 * challenge_type=digital_credential, openid4vp_flow_type=cross_device, a fresh DPoP key, PKCE) → a poll
 * every second with `auth_session` alone and a fresh DPoP proof with the server's nonce (403 pending) → the
 * wallet follows the link and posts at a staggered time → the next poll gets the code → `POST /token`.
 * A slot starts its next flow when one ends, until `stopAt`. Anything else than 403 pending, 200 code and
 * 200 tokens is a failure, kept with its body.
 */

export interface PollLoadSpec {
  readonly issuer: string;
  readonly challengeUrl: string;
  readonly tokenUrl: string;
  readonly clientId: string;
  /** One wallet per slot (its own holder, so each flow's user is the slot's). */
  readonly wallets: readonly TestWallet[];
  readonly pollIntervalMs: number;
  /** No flow begins after this (epoch ms); flows in progress finish. */
  readonly stopAt: number;
  readonly agent: http.Agent;
  /** A flow not done this long after its begin fails. */
  readonly flowTimeoutMs: number;
}

/** What the flows measured: the phase's report but what the phase adds (slots, CPU); with the failures' examples. */
export interface PollLoadResult extends Omit<WalletLoadReport, 'flows' | 'benchCpuMs' | 'challengeCpuMs'> {
  /** Unexpected answers by kind (`failureKind`): `<count>× <first example>`. */
  readonly failures: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export async function runPollLoad(spec: PollLoadSpec): Promise<PollLoadResult> {
  const post = keepAlivePoster(spec.agent, 15_000);
  const nonces: NonceSlot = { value: undefined };
  const walletFetch = routedFetch(spec.issuer, spec.challengeUrl);
  const polls: number[] = [];
  const begins: number[] = [];
  const tokens: number[] = [];
  const afterPost: number[] = [];
  const kinds = new Map<string, { count: number; example: string }>();
  let failureCount = 0;
  let begun = 0;
  let completed = 0;
  let nonceRetries = 0;
  let methodRequiredAfterPost = 0;
  const fail = (what: string): void => {
    failureCount++;
    const kind = kinds.get(failureKind(what)) ?? { count: 0, example: what.slice(0, 600) };
    kind.count++;
    kinds.set(failureKind(what), kind);
  };
  const timed = async (into: number[], p: () => Promise<FormResponse>): Promise<FormResponse> => {
    const t = performance.now();
    const res = await p();
    into.push(performance.now() - t);
    return res;
  };

  const oneFlow = async (slot: number, round: number): Promise<void> => {
    const wallet = spec.wallets[slot];
    const c = await ChallengeClient.create(spec.issuer, undefined, undefined, { baseUrl: spec.challengeUrl, tokenBaseUrl: spec.tokenUrl, post, nonces, onNonceRetry: () => nonceRetries++ });
    const startedAt = performance.now();
    const begin = await timed(begins, () =>
      c.send({ client_id: spec.clientId, response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256', challenge_type: 'digital_credential', openid4vp_flow_type: 'cross_device' }),
    );
    if (!isPendingPoll(begin.status, begin.body) || typeof begin.body.credentials_request !== 'string') return fail(`begin ${begin.status}: ${begin.text}`);
    // The wallet answers at its own time, while the app keeps polling.
    let postedAt: number | undefined;
    let walletFailed = false;
    let walletPosting = false;
    const walletDone = sleep(walletDelayMs(slot, round)).then(async () => {
      walletPosting = true;
      try {
        const answer = await wallet.followLink(begin.body.credentials_request as string, { fetch: walletFetch });
        if (answer.status !== 200) throw new Error(`${answer.status}: ${JSON.stringify(answer.body)}`);
        postedAt = performance.now();
      } catch (e) {
        walletFailed = true;
        fail(`wallet post ${(e as Error).message}`);
      }
    });
    let code: string | undefined;
    for (let tick = 1; code === undefined; tick++) {
      if (walletFailed) return;
      if (performance.now() - startedAt > spec.flowTimeoutMs) return fail(`flow not done after ${spec.flowTimeoutMs} ms`);
      await sleep(startedAt + tick * spec.pollIntervalMs - performance.now());
      const poll = await timed(polls, () => c.send({}));
      if (poll.status === 200 && typeof poll.body.authorization_code === 'string') {
        code = poll.body.authorization_code;
        if (postedAt !== undefined) afterPost.push(performance.now() - postedAt);
      } else if (walletPosting && poll.status === 403 && poll.body.status === 'method_required') {
        // Seen under load: the wallet's post consumed the challenge and has not recorded the authentication yet.
        methodRequiredAfterPost++;
        fail(`poll ${poll.status} after the wallet's post began: ${poll.text}`);
      } else if (!isPendingPoll(poll.status, poll.body)) {
        return fail(`poll ${poll.status}: ${poll.text}`);
      }
    }
    await walletDone;
    const token = await timed(tokens, () => c.redeem(code, { client_id: spec.clientId }));
    if (token.status !== 200 || token.body.token_type !== 'DPoP') return fail(`token ${token.status}: ${token.text}`);
    completed++;
  };

  const t0 = performance.now();
  await Promise.all(
    spec.wallets.map(async (_, slot) => {
      // Slots start spread over one poll interval, so polls do not come in bursts of `flows`.
      await sleep((slot * spec.pollIntervalMs) / spec.wallets.length);
      for (let round = 0; Date.now() < spec.stopAt; round++) {
        begun++;
        try {
          await oneFlow(slot, round);
        } catch (e) {
          fail(`flow threw ${(e as Error).message}`);
        }
      }
    }),
  );
  return {
    begun,
    completed,
    polls: polls.length,
    pollLatency: summarize(polls),
    beginLatency: summarize(begins),
    tokenLatency: summarize(tokens),
    codeAfterPostMs: summarize(afterPost),
    nonceRetries,
    methodRequiredAfterPost,
    failures: [...kinds.values()].map((k) => `${k.count}× ${k.example}`),
    failureCount,
    seconds: (performance.now() - t0) / 1000,
  };
}
