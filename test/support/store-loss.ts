import type { FirstPartyClient } from '@fpa/client-sdk';
import { createDpopProof, type ClientKeyPair } from '@fpa/crypto';
import { postForm, sleep, type FormResponse } from '@fpa/testing';
import { asNonce, clientCredentialsForm } from './http';

/**
 * Helpers of the store-loss suites (issue 8): requests that can be sent again byte for byte, and
 * the wait after which a freshly made value no longer predates the store's new generation.
 */

/** A client-credentials request (assertion + DPoP proof with the AS nonce), kept to be replayed. */
export interface TokenRequest {
  readonly form: Record<string, string>;
  readonly proof: string;
}

export async function tokenRequest(issuer: string, device: FirstPartyClient, parts: Partial<TokenRequest> = {}): Promise<TokenRequest> {
  const form = parts.form ?? (await clientCredentialsForm(device));
  const proof = parts.proof ?? (await createDpopProof(device.dpopKey, { htm: 'POST', htu: `${issuer}/token`, nonce: await asNonce(issuer) }));
  return { form, proof };
}

export const sendToken = (issuer: string, r: TokenRequest): Promise<FormResponse> => postForm(`${issuer}/token`, r.form, { dpop: r.proof });

/** A call to a resource server with `token` and a proof (made now by `key` unless given). */
export async function callApi(url: string, token: string, proof: string | ClientKeyPair): Promise<{ res: Response; proof: string }> {
  const p = typeof proof === 'string' ? proof : await createDpopProof(proof, { htm: 'GET', htu: url, accessToken: token });
  const res = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: p } });
  return { res, proof: p };
}

/**
 * Waits until a value made now is acceptable in a generation started no later than `startedBy`
 * (epoch ms): its `iat` (whole seconds) minus the clock skew must not be before the start.
 */
export async function waitPastGeneration(startedBy: number, skewSeconds: number): Promise<void> {
  while (Math.floor(Date.now() / 1000) - skewSeconds < startedBy / 1000) await sleep(100);
}

/** The sum of a Prometheus series over the lines whose labels contain every `labels` pair. */
export async function metric(baseUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return text
    .split('\n')
    .filter((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && wanted.every((w) => l.includes(w)))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/** Retries `check` until it passes or `ms` elapse. */
export async function eventually(check: () => Promise<boolean>, ms = 15_000, what = 'the condition'): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`${what} did not hold within ${ms} ms`);
    await sleep(200);
  }
}
