import type http from 'node:http';
import { X509Certificate } from 'node:crypto';
import { thumbprint, type JWK } from '@fpa/crypto';
import { ChallengeClient, keepAlivePoster, type FormPoster } from '@fpa/testing';
import { verifyMdocPresentation, verifySdJwtPresentation } from '@fpa/verifier';
import type { TestWallet, WalletAnswer, WalletPost } from '@fpa/verifier/testing';
import { mapConcurrent } from './device-flow';
import { sampleProcess } from './processes';
import { capturingFetch, MDL_ACR, MDL_DOCTYPE, PID_VCT, WALLET_CLIENT_ID, WALLET_PLAIN_CLIENT_ID } from './wallet-server';
import { cpuPerItem } from './wallet-stats';

/**
 * Verification cost (issue 11): CPU of the challenge process per wallet post to `/openid4vp/response`
 * (from /proc utime+stime over N posts sent one after another, the posts built beforehand), and the
 * verifier functions alone, in this process.
 */

export const COST_KINDS = ['SD-JWT VC, direct_post', 'SD-JWT VC, direct_post.jwt', 'mdoc (mDL), direct_post.jwt'] as const;
export type CostKind = (typeof COST_KINDS)[number];

const KIND_FLOW: Record<CostKind, { clientId: string; acr?: string }> = {
  'SD-JWT VC, direct_post': { clientId: WALLET_PLAIN_CLIENT_ID },
  'SD-JWT VC, direct_post.jwt': { clientId: WALLET_CLIENT_ID },
  'mdoc (mDL), direct_post.jwt': { clientId: WALLET_CLIENT_ID, acr: MDL_ACR },
};

export interface PostCost {
  readonly kind: CostKind;
  readonly posts: number;
  readonly cpuMsPerPost: number;
  readonly wallMsPerPost: number;
}

export interface MicroCost {
  readonly what: string;
  readonly runs: number;
  readonly cpuMsPerCall: number;
  readonly wallMsPerCall: number;
}

export interface PreparedPosts {
  readonly kind: CostKind;
  readonly posts: WalletPost[];
  /** The wallet's answers (vp_token before encryption, the request it answered): the micro-measure's input. */
  readonly answers: WalletAnswer[];
}

/** N cross-device flows begun and followed by the wallet up to its post, which is kept, not sent. */
export async function preparePosts(kind: CostKind, count: number, wallet: TestWallet, urls: { issuer: string; challengeUrl: string; tokenUrl: string }, agent: http.Agent): Promise<PreparedPosts> {
  const { clientId, acr } = KIND_FLOW[kind];
  const post = keepAlivePoster(agent, 15_000);
  const posts: WalletPost[] = [];
  const fetchKeeping = capturingFetch(urls.issuer, urls.challengeUrl, posts);
  const answers = await mapConcurrent(count, 8, async () => {
    const c = await ChallengeClient.create(urls.issuer, undefined, undefined, { baseUrl: urls.challengeUrl, tokenBaseUrl: urls.tokenUrl, post });
    const res = await c.send({ client_id: clientId, response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256', challenge_type: 'digital_credential', openid4vp_flow_type: 'cross_device', ...(acr ? { acr_values: acr } : {}) });
    if (res.status !== 403 || typeof res.body.credentials_request !== 'string') throw new Error(`${kind}: begin answered ${res.status}: ${res.text}`);
    return wallet.followLink(res.body.credentials_request, { fetch: fetchKeeping });
  });
  if (posts.length !== count) throw new Error(`${kind}: ${posts.length} of ${count} wallet posts captured`);
  return { kind, posts, answers };
}

/** Sends the kept posts one after another; CPU of the challenge process over them, per post. Every post must get 200. */
export async function measurePosts(prepared: PreparedPosts, challengePid: number, agent: http.Agent): Promise<PostCost> {
  const post: FormPoster = keepAlivePoster(agent, 15_000);
  const before = sampleProcess(challengePid);
  const t = performance.now();
  for (const p of prepared.posts) {
    const res = await post(p.url, p.form as Record<string, string>, { accept: 'application/json' });
    if (res.status !== 200) throw new Error(`${prepared.kind}: the wallet's post got ${res.status}: ${res.text}`);
  }
  const wall = performance.now() - t;
  const after = sampleProcess(challengePid);
  return { kind: prepared.kind, posts: prepared.posts.length, cpuMsPerPost: cpuPerItem(before?.cpuMs, after?.cpuMs, prepared.posts.length), wallMsPerPost: wall / prepared.posts.length };
}

/** Runs `call` `runs` times in a row; this process's CPU and wall time per call. */
async function micro(what: string, runs: number, call: (i: number) => Promise<void>): Promise<MicroCost> {
  await call(0); // warm
  const cpu = process.cpuUsage();
  const t = performance.now();
  for (let i = 0; i < runs; i++) await call(i);
  const used = process.cpuUsage(cpu);
  return { what, runs, cpuMsPerCall: (used.user + used.system) / 1000 / runs, wallMsPerCall: (performance.now() - t) / runs };
}

/** The verifier functions alone on the wallet's own presentations (the same checks the server makes, minus the stores). */
export async function measureVerifiers(sd: PreparedPosts, mdoc: PreparedPosts, trust: { sdJwtRoot: X509Certificate; iacaRoot: Uint8Array }, runs: number): Promise<MicroCost[]> {
  const first = (a: WalletAnswer): string => Object.values(a.vpToken ?? {})[0]?.[0] ?? '';
  const sdOne = sd.answers[0];
  const sdCall = async (): Promise<void> => {
    await verifySdJwtPresentation(first(sdOne), { nonce: sdOne.request.nonce, audience: sdOne.request.client_id as string, trustAnchors: [trust.sdJwtRoot], allowedVcts: [PID_VCT] });
  };
  const mdOne = mdoc.answers[0];
  const encJwk = (mdOne.request.client_metadata as { jwks?: { keys?: JWK[] } } | undefined)?.jwks?.keys?.[0];
  const jwkThumbprint = encJwk ? new Uint8Array(Buffer.from(await thumbprint(encJwk), 'base64url')) : undefined;
  const sessionTranscript = { kind: 'openid4vp' as const, clientId: mdOne.request.client_id as string, nonce: mdOne.request.nonce, responseUri: mdOne.request.response_uri as string, jwkThumbprint };
  const mdCall = async (): Promise<void> => {
    const r = await verifyMdocPresentation(first(mdOne), { docType: MDL_DOCTYPE, sessionTranscript, trustAnchors: [trust.iacaRoot] });
    if (!r.ok) throw new Error(`verifyMdocPresentation refused the wallet's mdoc: ${r.refusal.code} ${r.refusal.reason}`);
  };
  return [await micro('verifySdJwtPresentation (SD-JWT VC + KB-JWT, x5c chain)', runs, sdCall), await micro('verifyMdocPresentation (DeviceResponse, IACA chain, OpenID4VP handover)', runs, mdCall)];
}
