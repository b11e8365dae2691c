/** The groups of phases a run can be limited to (BENCH_ONLY) or spared (BENCH_SKIP). */
export const PHASE_GROUPS = ['registration', 'token', 'challenge', 'par', 'browser', 'federation', 'wallet'] as const;
export type PhaseGroup = (typeof PHASE_GROUPS)[number];

/** Settings of one benchmark run, read from the environment (see docs/benchmarks.md). */
export interface BenchOptions {
  /** Requests of the max-throughput token phase (BENCH_TOKEN_REQUESTS). */
  readonly tokenRequests: number;
  /** Requests of the registration phase (BENCH_REGISTER_REQUESTS). */
  readonly registerRequests: number;
  /** Connections of the max-throughput phases (BENCH_CONNECTIONS). */
  readonly connections: number;
  /** Offered rate of the fixed-rate token phase, req/s (BENCH_RATE). */
  readonly rate: number;
  /** Length of the fixed-rate phase, seconds (BENCH_DURATION_SECONDS). */
  readonly rateSeconds: number;
  /** Registered devices the token requests are spread over (BENCH_DEVICES). */
  readonly devices: number;
  /** Time bound of a max-throughput phase, seconds (BENCH_MAX_PHASE_SECONDS). */
  readonly maxPhaseSeconds: number;
  /** An admin connection URL; the bench creates and drops its own database next to it. */
  readonly adminDatabaseUrl: string;
  readonly redisUrl: string;
  /** Extra node arguments for the app processes, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` (BENCH_APP_NODE_ARGS). */
  readonly appNodeArgs: readonly string[];
  /** Email-OTP challenge round trips of the measured challenge phase (BENCH_CHALLENGE_ROUNDS). */
  readonly challengeRounds: number;
  /** Closed-loop workers of the challenge phase, one round trip in flight each (BENCH_CHALLENGE_CONCURRENCY). */
  readonly challengeConcurrency: number;
  /** DPoP proofs of the challenge phase: all signed before it (`presigned`) or each just before its request (`live`) (BENCH_CHALLENGE_SIGNING). */
  readonly challengeSigning: 'presigned' | 'live';
  /** Pushes of the measured PAR phase (BENCH_PAR_REQUESTS). */
  readonly parRequests: number;
  /** Browser login round trips of each measured browser phase (BENCH_BROWSER_ROUNDS). */
  readonly browserRounds: number;
  /** Closed-loop workers of the browser phases, one round trip in flight each (BENCH_BROWSER_CONCURRENCY). */
  readonly browserConcurrency: number;
  /** Logins of each measured federation phase, federated and local (BENCH_FEDERATION_ROUNDS). */
  readonly federationRounds: number;
  /** Closed-loop apps of the federation phases, one login in flight each (BENCH_FEDERATION_CONCURRENCY). */
  readonly federationConcurrency: number;
  /** Concurrent cross-device flows of the wallet phase, each polling every second (BENCH_WALLET_FLOWS). */
  readonly walletFlows: number;
  /** Offered token rate beside (and without) them, req/s (BENCH_WALLET_RATE). */
  readonly walletRate: number;
  /** Length of each token phase of the wallet group, seconds (BENCH_WALLET_SECONDS). */
  readonly walletSeconds: number;
  /** Wallet posts per format of the verification-cost measure (BENCH_WALLET_POSTS). */
  readonly walletPosts: number;
  /** The phase groups to run: BENCH_ONLY (comma-separated; default all) minus BENCH_SKIP. */
  readonly phases: ReadonlySet<PhaseGroup>;
  /** Write docs/benchmarks.md (BENCH_WRITE_DOCS; default: only when every phase group ran). */
  readonly writeDocs: boolean;
  /** Write the digital-credentials section (between its own markers) when the wallet group ran: unless BENCH_WRITE_DOCS=0. */
  readonly writeWalletSection: boolean;
}

export class OptionsError extends Error {}

export function readOptions(env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const problems: string[] = [];
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
      return fallback;
    }
    return Number(raw);
  };
  const groups = (name: string): PhaseGroup[] | undefined => {
    const raw = env[name]?.trim();
    if (!raw) return undefined;
    const list = raw.split(',').map((g) => g.trim()).filter(Boolean);
    const bad = list.filter((g) => !(PHASE_GROUPS as readonly string[]).includes(g));
    if (bad.length > 0) problems.push(`${name} lists unknown phases (${bad.join(', ')}); known: ${PHASE_GROUPS.join(', ')}`);
    return list.filter((g): g is PhaseGroup => (PHASE_GROUPS as readonly string[]).includes(g));
  };
  const only = groups('BENCH_ONLY');
  const skip = groups('BENCH_SKIP') ?? [];
  const phases = new Set(PHASE_GROUPS.filter((g) => (only === undefined || only.includes(g)) && !skip.includes(g)));
  if (phases.size === 0) problems.push('BENCH_ONLY and BENCH_SKIP leave no phase to run');
  const signing = env.BENCH_CHALLENGE_SIGNING?.trim() || 'presigned';
  if (signing !== 'presigned' && signing !== 'live') problems.push(`BENCH_CHALLENGE_SIGNING must be presigned or live, got "${signing}"`);
  const write = env.BENCH_WRITE_DOCS?.trim() || undefined;
  if (write !== undefined && !['0', '1', 'true', 'false'].includes(write)) problems.push(`BENCH_WRITE_DOCS must be 1 or 0, got "${write}"`);
  const options: BenchOptions = {
    tokenRequests: int('BENCH_TOKEN_REQUESTS', 15_000, 100, 1_000_000),
    registerRequests: int('BENCH_REGISTER_REQUESTS', 3_000, 100, 1_000_000),
    connections: int('BENCH_CONNECTIONS', 32, 1, 1_000),
    rate: int('BENCH_RATE', 1_000, 10, 20_000),
    rateSeconds: int('BENCH_DURATION_SECONDS', 10, 2, 45),
    devices: int('BENCH_DEVICES', 200, 1, 10_000),
    maxPhaseSeconds: int('BENCH_MAX_PHASE_SECONDS', 40, 5, 50),
    adminDatabaseUrl: env.BENCH_DATABASE_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: env.REDIS_URL?.trim() || 'redis://127.0.0.1:6379',
    appNodeArgs: (env.BENCH_APP_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
    challengeRounds: int('BENCH_CHALLENGE_ROUNDS', 3_000, 10, 1_000_000),
    challengeConcurrency: int('BENCH_CHALLENGE_CONCURRENCY', 32, 1, 1_000),
    challengeSigning: signing === 'live' ? 'live' : 'presigned',
    parRequests: int('BENCH_PAR_REQUESTS', 20_000, 100, 1_000_000),
    browserRounds: int('BENCH_BROWSER_ROUNDS', 2_000, 10, 1_000_000),
    browserConcurrency: int('BENCH_BROWSER_CONCURRENCY', 32, 1, 1_000),
    federationRounds: int('BENCH_FEDERATION_ROUNDS', 1_000, 10, 1_000_000),
    federationConcurrency: int('BENCH_FEDERATION_CONCURRENCY', 16, 1, 1_000),
    walletFlows: int('BENCH_WALLET_FLOWS', 100, 1, 1_000),
    walletRate: int('BENCH_WALLET_RATE', 200, 10, 5_000),
    walletSeconds: int('BENCH_WALLET_SECONDS', 20, 5, 40),
    walletPosts: int('BENCH_WALLET_POSTS', 100, 5, 10_000),
    phases,
    // A partial run would replace the whole generated section with fewer phases.
    writeDocs: write === undefined ? phases.size === PHASE_GROUPS.length : write === '1' || write === 'true',
    writeWalletSection: write === undefined || write === '1' || write === 'true',
  };
  if (options.connections > options.tokenRequests || options.connections > options.registerRequests || options.connections > options.parRequests) {
    problems.push('BENCH_CONNECTIONS must not exceed BENCH_TOKEN_REQUESTS, BENCH_REGISTER_REQUESTS or BENCH_PAR_REQUESTS');
  }
  if (problems.length > 0) throw new OptionsError(`invalid benchmark options:\n  - ${problems.join('\n  - ')}`);
  return options;
}
