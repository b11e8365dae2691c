import { OAuthError } from '@fpa/oauth-core';
import type { EphemeralStore } from './ephemeral-store';
import { StoreKeys } from './store-keys';

/**
 * Fixed-window limit shared by every replica: 429 `slow_down` with Retry-After once `limit` hits
 * in the window are exceeded (CONTRACT §2).
 */
export async function enforceRateLimit(store: EphemeralStore, bucket: string, subject: string, limit: number, windowSeconds: number): Promise<void> {
  const { count, resetSeconds } = await store.hit(StoreKeys.rateLimit(bucket, subject), windowSeconds);
  if (count > limit) {
    throw new OAuthError('slow_down', `too many requests; retry in ${resetSeconds} seconds`, {
      headers: { 'Retry-After': String(resetSeconds) },
      reason: `rate_limited:${bucket}`,
    });
  }
}
