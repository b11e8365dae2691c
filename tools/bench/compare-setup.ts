import type { CompareOptions, ComparisonId } from './compare-options';
import { DPOP_PROOF_MAX_AGE_SECONDS } from './context';
import { fmt, MAX_FAILURE_RATIO } from './phases';

/**
 * What each comparison of `npm run bench:compare` (issue 13) asks of each server, in words for
 * docs/benchmarks.md, and our clients for it. The choices where node-oidc-provider has no exact
 * equivalent are stated here, where the report takes them from.
 */

const CLIENT_BASE = { type: 'public', first_party: true, auth_methods: ['private_key_jwt', 'none'], scopes: ['api'], dpop_bound_access_tokens: true } as const;

/** Our first-party clients: without the refresh_token grant no refresh token is issued. */
export const OUR_CLIENTS = {
  client_credentials: { client_id: 'bench-compare', name: 'Comparison: device grant without refresh tokens', grant_types: ['fp_register', 'client_credentials'], ...CLIENT_BASE },
  refresh: { client_id: 'bench-compare-rt', name: 'Comparison: device grant with refresh tokens', grant_types: ['fp_register', 'client_credentials', 'refresh_token'], ...CLIENT_BASE },
} as const satisfies Record<ComparisonId, Record<string, unknown>>;

export interface ComparisonSpec {
  readonly title: string;
  readonly oursDoes: string;
  readonly theirsDoes: string;
  /** Both servers must answer with a refresh token (and without one otherwise). */
  readonly withRefreshToken: boolean;
}

const OURS_COMMON =
  '`POST /token` `grant_type=client_credentials`, a `private_key_jwt` client assertion signed by the device key and carrying `device_auth_session`, a DPoP proof with the server nonce; the token process verifies both, reads the device session from PostgreSQL, claims both `jti`s in Redis, signs an ES256 `at+jwt` bound to the DPoP key and writes its audit record (batched)';
const THEIRS_COMMON =
  'a `private_key_jwt` client assertion signed by the client\'s key and a DPoP proof with its server nonce (`features.dPoP.requireNonce` always true); it verifies both, records both `jti`s in its in-memory replay store, and signs an ES256 `at+jwt` (`features.resourceIndicators`, `accessTokenFormat: \'jwt\'`) bound to the DPoP key';

export const COMPARISON_SPECS: Record<ComparisonId, ComparisonSpec> = {
  client_credentials: {
    title: 'Token endpoint, no refresh tokens: client_credentials + private_key_jwt + DPoP (server nonce) → JWT access token',
    oursDoes: `${OURS_COMMON}. The client has no \`refresh_token\` grant, so nothing else is stored.`,
    theirsDoes: `\`POST /token\` \`grant_type=client_credentials\` \`scope=api\`, ${THEIRS_COMMON}.`,
    withRefreshToken: false,
  },
  refresh: {
    title: 'Token endpoint with refresh tokens: ours the device grant issuing one, theirs the refresh grant rotating one',
    oursDoes: `the same device grant for a client that has the \`refresh_token\` grant: ${OURS_COMMON}, and also inserts a refresh token (a new family bound to the device session and the DPoP key) into PostgreSQL.`,
    theirsDoes:
      `\`POST /token\` \`grant_type=refresh_token\` with rotation (\`rotateRefreshToken: true\`): ${THEIRS_COMMON}; it also finds the refresh token and its grant, marks the token consumed and stores its successor, all in memory. ` +
      'Why this grant: node-oidc-provider never issues a refresh token to `client_credentials`, so the nearest thing it does to "a token request that leaves a new refresh token stored" is the refresh grant itself. Its work differs from ours: it reads and consumes a token (ours reads a device session) and its refresh token is bound to the client\'s authentication, not to the DPoP key (RFC 9449 §5 for confidential clients). Each refresh token is minted before its round, outside the measurement, through the provider\'s own `Grant` and `RefreshToken` models, one grant per token, as one login each would leave it.',
    withRefreshToken: true,
  },
};

export interface SettingsInput {
  readonly options: CompareOptions;
  readonly postgres: string;
  readonly redis: string;
  readonly opVersion: string;
  readonly autocannonVersion: string;
}

/** The settings lines of the generated section. */
export function comparisonSettings(s: SettingsInput): string[] {
  const o = s.options;
  return [
    `Rounds: ${o.rounds} measured rounds per server and comparison, alternated first-party-auth (A), node-oidc-provider (B), A, B, …; each of ${fmt(o.n)} requests over ${o.connections} connections (closed loop, as fast as the server answers), bounded by ${o.maxRoundSeconds} s and by the nonce/proof acceptance window. Before each comparison, ${fmt(o.warmup)} unreported warm-up requests per server.`,
    ...(o.pacedSeconds > 0
      ? [
          `Fixed rate (issue 13 goal 2): after the rounds, each server for ${o.pacedSeconds} s at the same offered rate, ${o.pacedPercent} % of our median throughput over the rounds, from a light open-loop client (64 keep-alive connections; request i sent at start + i / rate whether or not earlier ones were answered; latency from each request's scheduled send time, so queueing counts), with requests pre-signed just before as for the rounds. CPU and peak RSS are measured as for the rounds.`,
        ]
      : []),
    `Requests: every request has its own client assertion (unique \`jti\`, \`exp\` = \`iat\` + 240 s) and DPoP proof (unique \`jti\`, \`htm\` POST, \`htu\` = the server's token endpoint, the nonce the server handed out just before the round — each server requires one), all pre-signed before the round, outside the measurement. They go round-robin over ${fmt(o.devices)} devices (ours: registered devices of one client, each with its own EC P-256 device key and a separate EC P-256 DPoP key) or ${fmt(o.devices)} clients (theirs: \`private_key_jwt\` clients, each with its own EC P-256 key and a separate EC P-256 DPoP key).`,
    `first-party-auth: one token process from \`dist/\` (as \`npm run bench\` starts it): \`APP_MODE=production\`, \`LOG_LEVEL=warn\`, \`DPOP_PROOF_MAX_AGE_SECONDS=${DPOP_PROOF_MAX_AGE_SECONDS}\` (pre-signed proofs stay acceptable through a round), \`ACCESS_TOKEN_TTL_SECONDS=600\`, every other setting at its default; PostgreSQL ${s.postgres} and Redis ${s.redis}, both local. The devices were registered through a registration process that was stopped before the first round. Clients: \`${JSON.stringify(OUR_CLIENTS.client_credentials)}\` and \`${JSON.stringify(OUR_CLIENTS.refresh)}\`.`,
    `node-oidc-provider ${s.opVersion} (a devDependency) in its own process (\`tools/bench/compare-oidc-server.ts\`), \`NODE_ENV=production\`: \`features.clientCredentials\`, \`features.dPoP\` with \`nonceSecret\` and \`requireNonce\` always true, \`features.resourceIndicators\` with one resource server (\`scope: 'api'\`, \`accessTokenFormat: 'jwt'\`, ES256, access tokens for 600 s), \`rotateRefreshToken: true\`, one ES256 signing key, clients with \`token_endpoint_auth_method: private_key_jwt\`, \`dpop_bound_access_tokens: true\`. Storage: its own MemoryAdapter class (what it uses when no adapter is configured), given an unbounded map with the same expiry instead of its default store, an LRU of 1,000 entries that would forget replay records (\`jti\`s) and refresh tokens within a fraction of a round.`,
    'Both server processes run with the same node flags (`--max-semi-space-size=16 --heap-growing-percent=30`, what `npm run start:*` uses) and Node.js version; node-oidc-provider 9 asks for Node.js 22 and prints a warning on this Node.js 20, where it runs through `require(esm)`.',
    `Measurement: autocannon ${s.autocannonVersion} in the comparison process on the same machine. Latency is autocannon's per-response time; percentiles are nearest-rank over every response of the round; throughput = completed responses / (first request → last response). CPU per request = user + system time from /proc/<pid>/stat of the server process (all its threads), of the PostgreSQL backends connected to the bench database, and of the whole Redis server process (anything else using that Redis counts too), sampled before the round and 0.5 s after its last response (so deferred work such as batched audit writes is counted), divided by the completed requests. Peak RSS is VmHWM from /proc/<pid>/status, reset before each round (\`/proc/<pid>/clear_refs\`). "Rest of the machine" is every CPU's busy time from /proc/stat minus the server, its stores and the comparison process, in cores: what other work took from the shared CPUs during the round.`,
    `A round with more than ${(MAX_FAILURE_RATIO * 100).toFixed(1)} % non-2xx answers or connection errors, or a 2xx body that is not a DPoP-bound \`at+jwt\` access token (with a refresh token exactly in the refresh comparison), fails the run: it exits non-zero and leaves this file alone.`,
  ];
}
