import { randomBytes } from 'node:crypto';
import { ENV_VARS } from '@fpa/config';
import type { AppProcess } from '@fpa/testing';
import type { BenchOptions } from './options';
import { checkPhase, describePhase, type Cleanup } from './phases';
import type { PhaseReport } from './report';
import type { CodeSink } from './smtp-sink';

/**
 * What every phase group (device grants, PAR, challenge, browser) gets from `bench.ts`: the
 * options, the running processes and a way to create clients; and what it hands back.
 */

/** Raised from the default 60 s so that proofs pre-signed before a phase stay acceptable through it. */
export const DPOP_PROOF_MAX_AGE_SECONDS = 120;
/** A nonce stays valid for the window it was minted in and the next one: at least one window. */
export const NONCE_WINDOW_SECONDS = Number(ENV_VARS.DPOP_NONCE_WINDOW_SECONDS.default);
/** Margin kept between the end of a phase and the moment its proofs or nonce would be refused. */
export const SAFETY_MS = 3_000;

/** The challenge process (it also serves the browser login) and the SMTP sink its codes go to. */
export interface ChallengeServer {
  readonly app: AppProcess;
  readonly sink: CodeSink;
}

export interface BenchContext {
  readonly options: BenchOptions;
  readonly log: (msg: string) => void;
  readonly cleanup: Cleanup;
  /** The token process's URL, the ISSUER of every process. */
  readonly issuer: string;
  readonly token: AppProcess;
  /** Running when a registration or token phase is wanted. */
  readonly registration: AppProcess | undefined;
  /** The environment every app process and the CLI share. */
  readonly appEnv: Readonly<Record<string, string>>;
  /** The bench database (its PostgreSQL backends are measured by the round-trip phases). */
  readonly dbName: string;
  /** The CLI's `client create`; its output (which may hold a secret: not for the log as is). */
  createClient(definition: Record<string, unknown>): Promise<string>;
  /** The challenge process and its SMTP sink, started on first use and shared by the challenge and browser phases. */
  challengeServer(): Promise<ChallengeServer>;
}

/** What a phase group hands back: its rows (in run order), its failures, its lines of the report's settings. */
export interface GroupResult {
  readonly reports: PhaseReport[];
  readonly problems: string[];
  readonly settings: string[];
}

export const emptyGroup = (): GroupResult => ({ reports: [], problems: [], settings: [] });

/** Logs a measured load phase, judges it (failure ratio, the body of a 2xx answer) and keeps it. */
export function finish(out: GroupResult, log: (msg: string) => void, p: PhaseReport, expect: (b: Record<string, unknown>) => boolean): PhaseReport {
  log(describePhase(p));
  out.problems.push(...checkPhase(p, expect));
  out.reports.push(p);
  return p;
}

/**
 * The app processes' environment in every benchmark (`npm run bench` and `bench:compare`): production
 * mode on the run's own database and Redis prefix, fresh secrets, quiet logs, no registration limit,
 * and pre-signed proofs acceptable for a whole phase.
 */
export function benchAppEnv(p: { readonly issuer: string; readonly databaseUrl: string; readonly redisUrl: string; readonly redisKeyPrefix: string }): Record<string, string> {
  return {
    APP_MODE: 'production',
    HOST: '127.0.0.1',
    ISSUER: p.issuer,
    DATABASE_URL: p.databaseUrl,
    REDIS_URL: p.redisUrl,
    REDIS_KEY_PREFIX: p.redisKeyPrefix,
    KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
    DPOP_NONCE_SECRET: randomBytes(32).toString('base64url'),
    LOG_LEVEL: 'warn',
    REGISTRATION_RATE_LIMIT: '10000000',
    DPOP_PROOF_MAX_AGE_SECONDS: String(DPOP_PROOF_MAX_AGE_SECONDS),
  };
}
