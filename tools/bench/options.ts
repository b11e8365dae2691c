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
  };
  if (options.connections > options.tokenRequests || options.connections > options.registerRequests) {
    problems.push('BENCH_CONNECTIONS must not exceed BENCH_TOKEN_REQUESTS or BENCH_REGISTER_REQUESTS');
  }
  if (problems.length > 0) throw new OptionsError(`invalid benchmark options:\n  - ${problems.join('\n  - ')}`);
  return options;
}
