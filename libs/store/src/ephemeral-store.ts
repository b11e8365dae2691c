import { Inject } from '@nestjs/common';
import type { GenerationTracker, StoreGeneration } from './generation';

/**
 * Short-lived shared state: replay caches (assertion and DPoP `jti`), rate limits, revoked
 * access-token ids, challenge state. Redis in production; an in-process map only in the embedded
 * default. Every operation is atomic on its own, so racing replicas cannot both win a claim.
 * Implementations throw `OAuthError('temporarily_unavailable')` when the store cannot be reached:
 * the suite refuses to issue what it cannot replay-protect.
 *
 * Claims and flag checks also read the store's generation marker in the same round trip
 * (generation.ts): after the store lost data, values that could have been accepted before are
 * refused, and flag checks fail closed until the flags are refilled from PostgreSQL.
 */
export interface EphemeralStore {
  readonly kind: 'redis' | 'memory';
  /** What this process knows of the store's generation; listeners hear of every new one. */
  readonly generation: GenerationTracker;
  /** Records `key` for `ttlSeconds`; false when it was already recorded. Not for values a client made (no issuance rule). */
  claimOnce(key: string, ttlSeconds: number): Promise<boolean>;
  /**
   * Claims every value in one round trip. `replayed`: already recorded; `predates_generation`: the
   * value could have been accepted before the store's current generation started (its claim may
   * have been lost with the store's data). Either is a refusal.
   */
  claimEachOnce(claims: readonly SingleUseClaim[]): Promise<ClaimResult[]>;
  /**
   * `claimEachOnce` that also reads, in the same round trip, the flag keys `watch` (as `setFlags`
   * sets them) — a cache validated by the request's own claim, with no extra round trip (issue 13).
   * `flagged` and `values` are undefined while the current generation's flags have not been
   * refilled from PostgreSQL (a reader must treat that as "changed"). `generation` is the one the
   * claims were made in.
   */
  claimEachOnceWatching(claims: readonly SingleUseClaim[], watch: readonly string[]): Promise<WatchedClaims>;
  /** Fixed-window counter: the count after this hit and seconds until the window resets. */
  hit(key: string, windowSeconds: number): Promise<{ count: number; resetSeconds: number }>;
  /**
   * A request's admission in one round trip, atomic as a whole: counts `hits` in order (each as
   * `hit`) and stops at the first one over its limit — nothing after it is counted, claimed or read
   * (`limited`). Otherwise claims `claims` (as `claimEachOnce`, generation marker included) and
   * reads `read` (as `getVersioned`). Issue 13: the challenge endpoint's rate limits, proof `jti`
   * and flow read were four sequential round trips.
   */
  admit<T>(admission: Admission): Promise<Admitted<T>>;
  /** Takes one `hit` back (a unit given back), never below zero; keeps the window's expiry; a no-op once the window is gone. */
  unhit(key: string): Promise<void>;
  /**
   * Marks keys (e.g. revoked token ids) until they expire. A flag's value is '1' unless given: a
   * writer that versions what it flags (a random value per change) lets a watcher tell changes apart.
   */
  setFlags(flags: readonly Flag[]): Promise<void>;
  /**
   * True when any of the keys is flagged. Throws `temporarily_unavailable` (fail closed) while the
   * current generation's revocation flags have not been refilled from PostgreSQL.
   */
  anyFlagged(keys: readonly string[]): Promise<boolean>;
  getJson<T>(key: string): Promise<T | undefined>;
  setJson(key: string, value: unknown, ttlSeconds: number): Promise<void>;
  /** Deletes and returns the value in one step (single-use state). */
  takeJson<T>(key: string): Promise<T | undefined>;
  delete(key: string): Promise<void>;
  /** A JSON value with its version (1, 2, …); undefined when absent. */
  getVersioned<T>(key: string): Promise<Versioned<T> | undefined>;
  /**
   * Writes `value` as version `expected + 1` only if the stored version is still `expected`
   * (0 = the key must be absent). False = someone else wrote first: re-read and decide again.
   */
  compareAndSet(key: string, expected: number, value: unknown, ttlSeconds: number): Promise<boolean>;
  /** Deletes only if the stored version is still `expected`. */
  compareAndDelete(key: string, expected: number): Promise<boolean>;
  /**
   * Reads the marker in one round trip, starting a new generation when it is missing or behind what
   * this process knows. `genesis`: a missing marker starts the deployment's first generation, which
   * nothing predates and whose flags need no refill (only when PostgreSQL has never recorded one).
   */
  syncGeneration(options?: { readonly genesis?: boolean }): Promise<StoreGeneration>;
  /** Marks `epoch`'s revocation flags as refilled; false when the store is in another generation by now. */
  markRevocationsRestored(epoch: number, atMs: number): Promise<boolean>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A value the store must see only once (an assertion `jti`, a DPoP proof `jti`). */
export interface SingleUseClaim {
  readonly key: string;
  readonly ttlSeconds: number;
  /** `acceptableSince(...)` of the value (epoch seconds); absent: no issuance rule (a server-made key). */
  readonly acceptableSince?: number;
}

export type ClaimResult = 'claimed' | 'replayed' | 'predates_generation';

export interface WatchedClaims {
  readonly results: ClaimResult[];
  /** Any watched key exists; undefined: the generation's flags are not refilled yet (unknown). */
  readonly flagged: boolean | undefined;
  /** Each watched key's value, in order (null: absent); undefined as for `flagged`. */
  readonly values: readonly (string | null)[] | undefined;
  readonly generation: StoreGeneration;
}

/** A key `setFlags` marks for `ttlSeconds`, with `value` ('1' when not given). */
export interface Flag {
  readonly key: string;
  readonly ttlSeconds: number;
  readonly value?: string;
}

/** A fixed-window counter with the count it may reach (`count > limit` is refused). */
export interface LimitedHit {
  readonly key: string;
  readonly windowSeconds: number;
  readonly limit: number;
}

export interface Admission {
  readonly hits: readonly LimitedHit[];
  readonly claims: readonly SingleUseClaim[];
  readonly read?: string;
}

export type Admitted<T> =
  /** `hits[index]` went over its limit; its window resets in `resetSeconds`. Nothing was claimed or read. */
  | { readonly limited: { readonly index: number; readonly resetSeconds: number } }
  | { readonly limited?: undefined; readonly claims: ClaimResult[]; readonly value: Versioned<T> | undefined };

export interface Versioned<T> {
  readonly version: number;
  readonly value: T;
}

export const EPHEMERAL_STORE = Symbol('EPHEMERAL_STORE');
export const InjectStore = (): ParameterDecorator => Inject(EPHEMERAL_STORE);
