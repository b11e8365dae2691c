import { prepareBrowserRounds, runBrowserRoundTrips, type BrowserClient } from './browser-flow';
import { challengeLimits } from './challenge-phases';
import { emptyGroup, type BenchContext, type GroupResult } from './context';
import { checkRoundTrips, describeRoundTrips, fmt, measuredWithStores } from './phases';
import type { BrowserPhaseReport } from './round-trip-report';

/**
 * The browser login round trip (issue 9) on the challenge process, which serves `GET /authorize`
 * and the hosted login, and the token process: once with the request in the query, once pushed
 * at `POST /par` first. Closed loop, after an unreported warm-up of each.
 */

/** A public first-party web client without DPoP (Bearer tokens), one registered redirect URI. */
export const BROWSER_CLIENT_ID = 'bench-web-login';
export const BROWSER_CLIENT = {
  client_id: BROWSER_CLIENT_ID,
  name: 'Benchmark web app (browser login)',
  type: 'public',
  first_party: true,
  grant_types: ['authorization_code', 'refresh_token'],
  auth_methods: ['none'],
  scopes: ['api'],
  redirect_uris: ['https://bench.example.com/browser/cb'],
  dpop_bound_access_tokens: false,
};
const CLIENT: BrowserClient = { clientId: BROWSER_CLIENT_ID, redirectUri: BROWSER_CLIENT.redirect_uris[0], scope: 'api' };

const VARIANTS = [
  { pushed: false, label: 'browser', title: 'Browser login round trip: GET /authorize + email + code + code exchange (max throughput; round trips/s)' },
  { pushed: true, label: 'browser PAR', title: 'Browser login round trip with PAR: push + GET /authorize + email + code + code exchange (max throughput; round trips/s)' },
] as const;

export async function runBrowserPhases(ctx: BenchContext): Promise<GroupResult & { browser: BrowserPhaseReport[] }> {
  const { options, issuer, token, log } = ctx;
  const out = { ...emptyGroup(), browser: [] as BrowserPhaseReport[] };
  if (!options.phases.has('browser')) return out;
  log(await ctx.createClient(BROWSER_CLIENT));
  const { app: challenge, sink } = await ctx.challengeServer();
  // Any email without a code from here on (warm-ups included) fails the run.
  const unparsableBefore = sink.unparsable;
  const warmup = Math.min(300, Math.max(options.browserConcurrency * 4, Math.ceil(options.browserRounds / 10)));
  const spec = { challengeUrl: challenge.url, tokenUrl: token.url, issuer, client: CLIENT, concurrency: options.browserConcurrency, sink };
  const tag = (label: string): string => `${label.replace(/[^a-z0-9]/gi, '')}.${process.pid}.${Date.now().toString(36)}`;

  for (const v of VARIANTS) {
    // Warm-up (JIT of the browser path, and of /par on the token process when the PAR phase did not run), not reported.
    const w = await runBrowserRoundTrips({ ...spec, pushed: v.pushed, title: `${v.label} warm-up`, rounds: prepareBrowserRounds(warmup, tag(`${v.label}warm`)), stopAt: Date.now() + options.maxPhaseSeconds * 1000 });
    log(describeRoundTrips(w));
    const failures = checkRoundTrips(w);
    if (failures.length > 0) throw new Error(`the warm-up ${v.label} round trips fail: ${failures.join('; ')}\n${challenge.output().slice(-4000)}\n${token.output().slice(-2000)}`);

    const rounds = prepareBrowserRounds(options.browserRounds, tag(v.label));
    const stopAt = Date.now() + options.maxPhaseSeconds * 1000;
    const c: BrowserPhaseReport = await measuredWithStores(ctx, [challenge, token], () => runBrowserRoundTrips({ ...spec, pushed: v.pushed, title: v.title, rounds, stopAt }));
    log(describeRoundTrips(c));
    out.problems.push(...checkRoundTrips(c));
    // The client holds refresh_token: every exchange must issue one (the settings say it inserts one).
    const sample = c.samples.get(200)?.[0];
    if (sample !== undefined && !/"refresh_token":"[^"]+"/.test(sample)) out.problems.push(`${v.title}: the code exchange issued no refresh token: ${sample.slice(0, 500)}`);
    out.reports.push(c);
    out.browser.push(c);
  }
  if (sink.unparsable > unparsableBefore) out.problems.push(`browser phases: ${sink.unparsable - unparsableBefore} emails held no code`);

  out.settings.push(
    `Browser phases (issue 9): ${fmt(options.browserRounds)} browser login round trips (\`BENCH_BROWSER_ROUNDS\`) in each of two variants, from ${options.browserConcurrency} concurrent closed-loop clients (\`BENCH_BROWSER_CONCURRENCY\`), bounded by ${options.maxPhaseSeconds} s, each variant after ${fmt(warmup)} unreported warm-up round trips. They run on the challenge process, which serves \`GET /authorize\` and the hosted login (\`CHALLENGE_METHODS=email_otp\`, the SMTP sink and \`${challengeLimits()}\` as in the challenge phase), and on the token process. Every round trip is a new browser (no cookie) with its own PKCE verifier, \`state\` and email address (a new user per login): \`GET /authorize\` (client_id, response_type=code, the registered redirect_uri, scope, state, S256 code_challenge) → the page's hidden \`interaction\` and \`csrf\` inputs and its \`fpa_login\` cookie → \`POST /authorize/login\` with \`challenge_type=email_otp\` and the email → the code from the SMTP sink → \`POST /authorize/login\` with the code → 303 to the redirect URI with \`code\`, \`state\` and \`iss\` (all checked) → \`POST /token\` \`grant_type=authorization_code\` with \`client_id\`, \`code_verifier\` and \`redirect_uri\` (a public client without DPoP: Bearer tokens). The PAR variant first pushes the same request to \`POST /par\` of the token process (client_id only, as a public client) and opens \`GET /authorize\` with \`client_id\` and \`request_uri\`. The client is first-party, so no consent page is shown. The driver is node:http with one keep-alive agent, like the challenge phase's; a round trip fails at the first unexpected answer (an error shown on a 200 page included) or a 10 s timeout; more than 0.5 % failed round trips fail the run.`,
    `Browser client: \`${JSON.stringify(BROWSER_CLIENT)}\` (created with the CLI; \`refresh_token\`, so every code exchange also inserts a refresh token).`,
  );
  return out;
}
