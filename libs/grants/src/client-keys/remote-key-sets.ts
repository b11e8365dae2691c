import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { keySetVerifier, type KeySetVerifier } from '@fpa/crypto';
import { CLOCK, type Clock } from '@fpa/oauth-core';
import { TokenMetrics } from '../token.metrics';
import { JWKS_SOURCE, JwksFetchError, type JwksSource } from './jwks-fetcher';

interface Entry {
  /** The last good set, while it may still verify (fresh, or stale within the grace period). */
  verifier?: KeySetVerifier;
  expiresAtMs: number;
  /** When the last fetch began, good or not: the cooldown runs from here. */
  lastAttemptMs: number;
  lastFailure?: JwksFetchError;
  inflight?: Promise<void>;
}

const MAX_ENTRIES = 10_000;

/**
 * Key sets fetched from clients' `jwks_uri`, one entry per URI, in this process:
 * - a set is fresh for its `Cache-Control: max-age` (CLIENT_JWKS_CACHE_SECONDS without one),
 *   clamped to [CLIENT_JWKS_CACHE_MIN_SECONDS, CLIENT_JWKS_CACHE_MAX_SECONDS];
 * - a URI is fetched at most once per CLIENT_JWKS_REFETCH_COOLDOWN_SECONDS, whatever asks — an
 *   expired set, an unknown `kid` (a client rotating its keys), a retry after a failure — so no
 *   stream of assertions can make us hammer it; concurrent needs share one fetch;
 * - when refetching an expired set fails, the old set keeps verifying for
 *   CLIENT_JWKS_STALE_GRACE_SECONDS past its expiry, except after a set with private keys: that
 *   drops the old one at once (the client's keys are compromised, not its server down).
 */
@Injectable()
export class RemoteKeySets {
  private readonly entries = new Map<string, Entry>();
  /** URIs already reported for serving private keys (logged once until they serve a good set). */
  private readonly reported = new Set<string>();
  private readonly logger = new Logger('ClientKeySets');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(JWKS_SOURCE) private readonly source: JwksSource,
    private readonly metrics: TokenMetrics,
  ) {}

  /** The set to verify with now; throws the fetch failure when there is none. */
  async current(uri: string, clientId: string): Promise<KeySetVerifier> {
    let entry = this.entries.get(uri);
    if (entry?.inflight) {
      await entry.inflight;
      entry = this.entries.get(uri);
    }
    const now = this.clock.nowMs();
    if (entry?.verifier && now < entry.expiresAtMs) return entry.verifier;
    if (!entry || this.cooledDown(entry, now)) {
      await this.refetch(uri, clientId);
      entry = this.entries.get(uri);
    }
    return this.usable(entry);
  }

  /**
   * A JWS named a key the set lacks (RFC 7517 §4.5: the client may have rotated): fetch again, unless
   * a fetch began within the cooldown. Returns the new set, or undefined when nothing was fetched.
   */
  async refreshForUnknownKid(uri: string, clientId: string): Promise<KeySetVerifier | undefined> {
    const entry = this.entries.get(uri);
    if (entry?.inflight) {
      await entry.inflight;
      return this.usable(this.entries.get(uri));
    }
    if (entry && !this.cooledDown(entry, this.clock.nowMs())) {
      this.metrics.clientJwksFetches.inc({ outcome: 'cooldown' });
      return undefined;
    }
    await this.refetch(uri, clientId);
    return this.usable(this.entries.get(uri));
  }

  private usable(entry: Entry | undefined): KeySetVerifier {
    const now = this.clock.nowMs();
    const graceMs = this.config.clientJwks.staleGraceSeconds * 1000;
    if (entry?.verifier && now < entry.expiresAtMs + graceMs) return entry.verifier;
    throw entry?.lastFailure ?? new JwksFetchError('network', 'jwks_uri has not been fetched yet');
  }

  private cooledDown(entry: Entry, now: number): boolean {
    return now - entry.lastAttemptMs >= this.config.clientJwks.cooldownSeconds * 1000;
  }

  /** One fetch per URI at a time; every caller waits for the same one. */
  private refetch(uri: string, clientId: string): Promise<void> {
    const entry = this.entries.get(uri) ?? this.add(uri);
    entry.inflight ??= this.fetchInto(uri, entry, clientId).finally(() => {
      entry.inflight = undefined;
    });
    return entry.inflight;
  }

  private async fetchInto(uri: string, entry: Entry, clientId: string): Promise<void> {
    entry.lastAttemptMs = this.clock.nowMs();
    try {
      const { set, maxAgeSeconds } = await this.source.fetch(uri);
      const { cacheSeconds, minCacheSeconds, maxCacheSeconds } = this.config.clientJwks;
      const lifetime = Math.min(maxCacheSeconds, Math.max(minCacheSeconds, maxAgeSeconds ?? cacheSeconds));
      entry.verifier = keySetVerifier(set);
      entry.expiresAtMs = this.clock.nowMs() + lifetime * 1000;
      entry.lastFailure = undefined;
      this.reported.delete(uri);
      this.metrics.clientJwksFetches.inc({ outcome: 'ok' });
    } catch (e) {
      const failure = e instanceof JwksFetchError ? e : new JwksFetchError('network', 'jwks_uri could not be fetched');
      entry.lastFailure = failure;
      this.metrics.clientJwksFetches.inc({ outcome: failure.failure });
      if (failure.failure === 'private_key') {
        entry.verifier = undefined;
        if (!this.reported.has(uri)) {
          this.reported.add(uri);
          // The URI and the client only: never the key material.
          this.logger.warn(`jwks_uri of client ${clientId} (${uri}) serves private key material; the client cannot authenticate until it publishes public keys only`);
        }
      }
    }
  }

  private add(uri: string): Entry {
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    const entry: Entry = { expiresAtMs: 0, lastAttemptMs: 0 };
    this.entries.set(uri, entry);
    return entry;
  }
}
