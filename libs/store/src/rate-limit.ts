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

/** The same limit as one of an admission's hits (`EphemeralStore.admit`), with its bucket for the refusal. */
export function rateLimitHit(bucket: string, subject: string, limit: number, windowSeconds: number): LimitedHit & { readonly bucket: string } {
  return { key: StoreKeys.rateLimit(bucket, subject), windowSeconds, limit, bucket };
}

/** The refusal of a request over a limit (CONTRACT §2). */
export function rateLimited(bucket: string, resetSeconds: number): OAuthError {
  return new OAuthError('slow_down', `too many requests; retry in ${resetSeconds} seconds`, {
    headers: { 'Retry-After': String(resetSeconds) },
    reason: `rate_limited:${bucket}`,
  });
}
