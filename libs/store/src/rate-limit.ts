import { OAuthError } from '@fpa/oauth-core';
import type { EphemeralStore, LimitedHit } from './ephemeral-store';
import { StoreKeys } from './store-keys';

/**
 * Fixed-window limit shared by every replica: 429 `slow_down` with Retry-After once `limit` hits
 * in the window are exceeded (CONTRACT §2).
 */
export async function enforceRateLimit(store: EphemeralStore, bucket: string, subject: string, limit: number, windowSeconds: number): Promise<void> {
  const { count, resetSeconds } = await store.hit(StoreKeys.rateLimit(bucket, subject), windowSeconds);
  if (count > limit) throw rateLimited(bucket, resetSeconds);
}

/** A limit as one of an admission's hits (`EphemeralStore.admit`), with its bucket for the refusal. */
export type RateLimitHit = LimitedHit & { readonly bucket: string };

/** The same limit as one of an admission's hits (`EphemeralStore.admit`), with its bucket for the refusal. */
export function rateLimitHit(bucket: string, subject: string, limit: number, windowSeconds: number): RateLimitHit {
  return { key: StoreKeys.rateLimit(bucket, subject), windowSeconds, limit, bucket };
}

/** The refusal of a request over a limit (CONTRACT §2). */
export function rateLimited(bucket: string, resetSeconds: number): OAuthError {
  return new OAuthError('slow_down', `too many requests; retry in ${resetSeconds} seconds`, {
    headers: { 'Retry-After': String(resetSeconds) },
    reason: `rate_limited:${bucket}`,
  });
}

/**
 * Limits this process saw exceeded, remembered until their window resets, so a request from a
 * subject known to be over its limit can be refused before the work its admission would follow —
 * a DPoP proof's signature check, a PostgreSQL read of its session — and without a store round
 * trip. The shared counter would refuse it all the same: a fixed window resets at a time set by its
 * first hit, whatever is counted after the limit. What is remembered is conservative: one second
 * less than the store's rounded TTL, so a request the store would admit is never refused here;
 * the one exception is a store that lost its data (counters gone), where an address stays refused
 * until its old window would have ended (at most the window). Bounded: a full table is emptied.
 * Time is this process's monotonic clock, as the store's TTLs run on real time.
 */
export class ExceededLimits {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly nowMs: () => number = () => performance.now(),
    private readonly maxEntries = 10_000,
  ) {}

  /** The refusal while `hit`'s window is known to be over its limit; undefined: ask the store. */
  refusal(hit: { readonly key: string; readonly bucket: string }): OAuthError | undefined {
    const until = this.until.get(hit.key);
    if (until === undefined) return undefined;
    const left = until - this.nowMs();
    if (left <= 0) {
      this.until.delete(hit.key);
      return undefined;
    }
    return rateLimited(hit.bucket, Math.ceil(left / 1000) + 1);
  }

  /** The store refused `hit` (its window resets in `resetSeconds`, as the store rounds it). */
  note(hit: { readonly key: string }, resetSeconds: number): void {
    const sure = (resetSeconds - 1) * 1000;
    if (sure <= 0) return;
    if (this.until.size >= this.maxEntries && !this.until.has(hit.key)) this.until.clear();
    this.until.set(hit.key, this.nowMs() + sure);
  }

  /** The same check and the same lesson around an `enforceRateLimit`-style call. */
  async enforce(store: EphemeralStore, hit: RateLimitHit): Promise<void> {
    const known = this.refusal(hit);
    if (known) throw known;
    const { count, resetSeconds } = await store.hit(hit.key, hit.windowSeconds);
    if (count > hit.limit) {
      this.note(hit, resetSeconds);
      throw rateLimited(hit.bucket, resetSeconds);
    }
  }
}
