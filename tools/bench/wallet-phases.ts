import { TestWallet } from '@fpa/verifier/testing';
import { emptyGroup, finish, type BenchContext, type GroupResult } from './context';
import { keepAliveAgent } from './closed-loop';
import { registerDevices, mapConcurrent, type Device } from './device-flow';
import { DEVICE_CLIENT_ID, prepareTokenPhase } from './device-phases';
import { runPaced } from './load';
import { fmt, isTokenResponse, measured } from './phases';
import { sampleProcess } from './processes';
import { COST_KINDS, measurePosts, measureVerifiers, preparePosts, type PostCost } from './wallet-cost';
import { runPollLoad, type PollLoadResult } from './wallet-flows';
import { startWalletServer, WALLET_CLIENT_ID, type WalletServer } from './wallet-server';
import { cpuPerItem, WALLET_DELAY_MAX_MS, WALLET_DELAY_MIN_MS, type WalletSectionInput } from './wallet-stats';

/**
 * `BENCH_ONLY=wallet` (issue 11): the token endpoint at a fixed offered rate alone, then the same load beside
 * BENCH_WALLET_FLOWS cross-device flows polling every second (wallet-flows.ts), then the verification cost
 * per presentation (wallet-cost.ts). The section goes to docs/benchmarks.md between its own markers.
 */

const PACED_CONNECTIONS = 32;
const POLL_INTERVAL_MS = 1_000;
/** The flows run this long before the token load starts, so it meets them in their steady state. */
const RAMP_MS = WALLET_DELAY_MAX_MS;

export type WalletResult = Omit<WalletSectionInput, 'date' | 'commit' | 'machine'>;

async function holderWallets(server: WalletServer, count: number): Promise<TestWallet[]> {
  return mapConcurrent(count, 8, async (i) => {
    const wallet = await TestWallet.create({ sdJwtIssuer: server.sdIssuer, mdocIssuer: server.mdocIssuer });
    await wallet.addSdJwt(await server.sdIssuer.issue({ holderJwk: wallet.sdJwtHolder.publicJwk, claims: { sub: `bench-holder-${i}`, email: `holder${i}@bench.example.com`, given_name: 'Erika' } }));
    return wallet;
  });
}

function pollProblems(title: string, r: PollLoadResult): string[] {
  const out: string[] = [];
  if (r.completed === 0) out.push(`${title}: no flow completed`);
  // Every answer but 403 pending, 200 code and 200 tokens is a failure: none is tolerated.
  if (r.failureCount > 0) out.push(`${title}: ${r.failureCount} unexpected answers (of ${r.begun} flows):\n  ${r.failures.join('\n  ')}`);
  return out;
}

export async function runWalletPhases(ctx: BenchContext): Promise<GroupResult & { wallet: WalletResult | undefined }> {
  const { options, issuer, token, registration, log } = ctx;
  const out = { ...emptyGroup(), wallet: undefined as WalletResult | undefined };
  if (!options.phases.has('wallet')) return out;
  if (!registration) throw new Error('the wallet phases need the registration process');
  const server = await startWalletServer(ctx);
  const challenge = server.app;
  const agent = keepAliveAgent(options.walletFlows + 16);
  const urls = { issuer, challengeUrl: challenge.url, tokenUrl: token.url };
  const devices: Device[] = await registerDevices(registration.url, DEVICE_CLIENT_ID, Math.min(options.devices, 100));
  const wallets = await holderWallets(server, options.walletFlows);
  log(`registered ${devices.length} devices; ${wallets.length} wallets hold an SD-JWT VC each`);
  const pollSpec = { issuer, challengeUrl: challenge.url, tokenUrl: token.url, clientId: WALLET_CLIENT_ID, wallets, pollIntervalMs: POLL_INTERVAL_MS, agent, flowTimeoutMs: WALLET_DELAY_MAX_MS + 20_000 };
  const rate = options.walletRate;
  const seconds = options.walletSeconds;
  const paced = async (title: string): Promise<ReturnType<typeof measured>> => {
    const { requests, validUntil } = await prepareTokenPhase(ctx, devices, rate * seconds + PACED_CONNECTIONS, title);
    if (validUntil - Date.now() < seconds * 1000 + 3_000) throw new Error(`${title}: pre-signing left too little of the nonce/proof window`);
    return measured(token, () => runPaced(title, issuer, '/token', requests, rate, seconds, Math.min(validUntil, Date.now() + seconds * 1000 + 8_000), PACED_CONNECTIONS));
  };

  // Warm-up (JIT, pools, the request-object and response paths), not reported.
  {
    const w = await runPollLoad({ ...pollSpec, stopAt: Date.now() + 2_000 });
    log(`warm-up: ${w.completed}/${w.begun} cross-device flows completed, ${w.polls} polls, ${w.failureCount} failures`);
    // Only a warm-up where nothing works stops the run; its other failures show again in the measured phase.
    if (w.completed === 0) throw new Error(`${pollProblems('warm-up', w).join('\n')}\n${challenge.output().slice(-4000)}`);
    await paced('token warm-up');
  }

  // 1. The token endpoint alone.
  const baseline = finish(out, log, await paced(`Token, full device grant (${fmt(rate)} req/s for ${seconds} s, alone)`), isTokenResponse);

  // 2. The same load beside the polling flows (started first: the token load meets them in steady state).
  const loadedTitle = `Token, full device grant (${fmt(rate)} req/s for ${seconds} s, beside ${options.walletFlows} polling cross-device flows)`;
  const cpuBefore = sampleProcess(challenge.pid);
  const benchCpu = process.cpuUsage();
  const flows = runPollLoad({ ...pollSpec, stopAt: Date.now() + RAMP_MS + seconds * 1000 });
  await new Promise((r) => setTimeout(r, RAMP_MS));
  const loaded = finish(out, log, await paced(loadedTitle), isTokenResponse);
  const load = await flows;
  const cpuAfter = sampleProcess(challenge.pid);
  const benchUsed = process.cpuUsage(benchCpu);
  out.problems.push(...pollProblems(`${options.walletFlows} polling cross-device flows`, load));
  log(
    `polling flows: ${load.completed}/${load.begun} completed, ${fmt(load.polls)} polls (p50 ${load.pollLatency.p50.toFixed(1)} ms, p99 ${load.pollLatency.p99.toFixed(1)} ms), ${load.failureCount} failures`,
  );

  // 3. Verification cost per presentation: the posts built first, then sent one by one.
  const wallet = await TestWallet.withTestCredentials({ sdJwtIssuer: server.sdIssuer, mdocIssuer: server.mdocIssuer, sdJwtClaims: { sub: 'bench-cost-holder', email: 'cost@bench.example.com' } });
  const posts: PostCost[] = [];
  const prepared = [];
  for (const kind of COST_KINDS) {
    const p = await preparePosts(kind, options.walletPosts, wallet, urls, agent);
    prepared.push(p);
    const cost = await measurePosts(p, challenge.pid, agent);
    log(`${kind}: ${cost.cpuMsPerPost.toFixed(2)} ms CPU per post of the challenge process (${cost.posts} posts, ${cost.wallMsPerPost.toFixed(1)} ms each)`);
    posts.push(cost);
  }
  const micro = await measureVerifiers(prepared[1], prepared[2], { sdJwtRoot: server.sdIssuer.pki.root, iacaRoot: server.mdocIssuer.iacaRoot }, options.walletPosts);
  for (const m of micro) log(`${m.what}: ${m.cpuMsPerCall.toFixed(2)} ms CPU per call`);
  if (challenge.exited()) throw new Error(`the challenge process exited:\n${challenge.output()}`);

  const settings = [
    `Digital-credential phases (issue 11, \`BENCH_ONLY=wallet\`): a challenge process with \`CHALLENGE_METHODS=digital_credential\`, the test issuers' roots as \`DIGITAL_CREDENTIALS_TRUST_ANCHORS\`, a verifier key and self-signed certificate for ISSUER's host (\`x509_san_dns\`), a policy with the PID SD-JWT VC query (\`sub\`, \`email\`) and an mDL query for \`urn:example:acr:mdl\`; the client \`${WALLET_CLIENT_ID}\` gets \`direct_post.jwt\` (the default), \`bench-wallet-plain\` \`direct_post\`. Rate limits as the challenge phase sets them.`,
    `Token load: \`POST /token\` full device grant (pre-signed \`private_key_jwt\` assertion + DPoP proof per request, ${devices.length} devices), ${fmt(rate)} req/s offered for ${seconds} s (\`BENCH_WALLET_RATE\`, \`BENCH_WALLET_SECONDS\`) by the light paced open-loop client (${PACED_CONNECTIONS} keep-alive connections, latency from each request's scheduled send time), first alone, then beside the flows. Both after an unreported warm-up.`,
    `Flows: ${options.walletFlows} slots (\`BENCH_WALLET_FLOWS\`), started spread over one second, each running cross-device flows back to back: begin with a fresh DPoP key and PKCE → a poll every ${POLL_INTERVAL_MS / 1000} s (the server advertises \`interval: 2\`; the brief asks for 1 s) with \`auth_session\` alone and a fresh DPoP proof with the newest server nonce → the slot's own wallet (\`TestWallet\` from \`@fpa/verifier/testing\`, one holder and one SD-JWT VC per slot, so one user per slot) fetches the request object (\`request_uri_method=post\`, \`wallet_nonce\`) and posts an encrypted \`direct_post.jwt\` response ${WALLET_DELAY_MIN_MS / 1000}–${WALLET_DELAY_MAX_MS / 1000} s after the begin (staggered per slot and round) → the next poll gets the code → \`POST /token\`. The flows run ${RAMP_MS / 1000} s before the token load starts and stop beginning when it ends. Any answer other than 403 \`insufficient_authorization\` + \`status: "pending"\`, 200 code or 200 tokens fails the run. The wallets' signing and encryption run in the bench process, on the same cores.`,
    `Verification cost: per format, ${options.walletPosts} cross-device flows (\`BENCH_WALLET_POSTS\`) begun and followed by the wallet up to its post, which is kept; then the posts are sent one after another and the challenge process's utime + stime (/proc/<pid>/stat, 10 ms ticks) over them is divided by their number. A post includes HTTP and form parsing, the JWE decryption (\`.jwt\`), the presentation verification, the replay claim and the flow update in PostgreSQL and Redis. The in-process rows run the verifier functions alone ${options.walletPosts} times on one of those presentations (\`process.cpuUsage()\` of the bench process; no stores, no status list).`,
  ];
  out.wallet = {
    baseline,
    loaded,
    load: { ...load, flows: options.walletFlows, benchCpuMs: (benchUsed.user + benchUsed.system) / 1000, challengeCpuMs: Number.isFinite(cpuPerItem(cpuBefore?.cpuMs, cpuAfter?.cpuMs, 1)) ? cpuPerItem(cpuBefore?.cpuMs, cpuAfter?.cpuMs, 1) : undefined },
    posts,
    micro,
    settings,
    problems: out.problems,
  };
  return out;
}
