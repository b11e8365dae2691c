import { Inject } from '@nestjs/common';

/**
 * Short-lived shared state: replay caches (assertion and DPoP `jti`), rate limits, revoked
 * access-token ids, challenge state. Redis in production; an in-process map only in the embedded
 * default. Every operation is atomic on its own, so racing replicas cannot both win a claim.
 * Implementations throw `OAuthError('temporarily_unavailable')` when the store cannot be reached:
 * the suite refuses to issue what it cannot replay-protect.
 */
export interface EphemeralStore {
  readonly kind: 'redis' | 'memory';
  /** Records `key` for `ttlSeconds`; false when it was already recorded (a replay). */
  claimOnce(key: string, ttlSeconds: number): Promise<boolean>;
  /** Several claims in one round trip; each result as for `claimOnce`. */
  claimEachOnce(claims: readonly { key: string; ttlSeconds: number }[]): Promise<boolean[]>;
  /** Fixed-window counter: the count after this hit and seconds until the window resets. */
  hit(key: string, windowSeconds: number): Promise<{ count: number; resetSeconds: number }>;
  /** Takes one `hit` back (a unit given back), never below zero; keeps the window's expiry; a no-op once the window is gone. */
  unhit(key: string): Promise<void>;
  /** Marks keys (e.g. revoked token ids) until they expire. */
  setFlags(flags: readonly { key: string; ttlSeconds: number }[]): Promise<void>;
  /** True when any of the keys is flagged. */
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
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface Versioned<T> {
  readonly version: number;
  readonly value: T;
}

export const EPHEMERAL_STORE = Symbol('EPHEMERAL_STORE');
export const InjectStore = (): ParameterDecorator => Inject(EPHEMERAL_STORE);
