import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { CLOCK, type Clock } from '@fpa/oauth-core';
import { EPHEMERAL_STORE, StoreKeys, type EphemeralStore, type WatchedClaims } from '@fpa/store';
import type { DeviceSession } from './device-session.entity';
import { DeviceSessionRepository } from './device-session.repository';

/** Entries at most; a full cache is emptied (as the device-key cache is): simple, and bounded. */
export const DEVICE_SESSION_CACHE_MAX = 10_000;
/** The largest DEVICE_SESSION_CACHE_SECONDS the configuration accepts. */
export const DEVICE_SESSION_CACHE_MAX_SECONDS = 300;
/**
 * Seconds a "session changed" flag lives (and, at least, a "session revoked" one): longer than any
 * entry of any token process can live, whatever the writer's own setting (the writer may be a
 * challenge or federation process configured without a cache), plus a margin for the time between
 * a lookup and its claim and for clock-rate differences.
 */
export const SESSION_CHANGE_FLAG_SECONDS = DEVICE_SESSION_CACHE_MAX_SECONDS + 60;

/** A device session as a token request found it: from this process's cache, or just read from PostgreSQL. */
export interface SessionLookup {
  readonly session: DeviceSession;
  /** True: a cached copy, usable only once the request's claim round trip found it current (`isCurrent`). */
  readonly fromCache: boolean;
  /** The process clock (ms) before the PostgreSQL read that produced it. */
  readonly readAtMs: number;
  /** The store generation this process knew before that read (undefined: none yet). */
  readonly generationId: string | undefined;
}

/**
 * Device sessions for the token endpoint, kept in process for DEVICE_SESSION_CACHE_SECONDS so a
 * device grant needs no PostgreSQL read (issue 13). A cached copy is only ever used together with
 * the request's own store round trip — the claim of its assertion (and DPoP) `jti` — which also
 * reports whether the session's "revoked" or "changed" flag exists (`watchKeys`,
 * `EphemeralStore.claimEachOnceWatching`) and the store's generation. Flagged, flags not refilled
 * yet, or another generation: the copy is dropped and the session re-read (`isCurrent`).
 *
 * Why a write is never missed (linearisability): a reader stamps an entry with its clock BEFORE the
 * PostgreSQL read, and the entry is usable only while `0 ≤ now − stamp < TTL`. Every writer of
 * what the token endpoint reads (the user, acr/amr, expiry: `AuthorizationCodeService.issueForSession`;
 * the status: `RevocationService.revokeSession`) sets its flag AFTER its write commits, with a TTL
 * of at least SESSION_CHANGE_FLAG_SECONDS (> any TTL + a margin). A write the read did not see committed after the
 * read began, hence after the stamp; its flag then exists from before the writer returned until
 * after stamp + TTL, i.e. for the entry's whole remaining life: every request that uses the entry
 * after the write returned sees the flag in its claim reply. A store that lost its flags starts a
 * new generation (generation.ts): the listener below empties the cache, and an entry made under
 * another generation is re-read anyway; until the generation's flags are refilled, every copy is
 * re-read. The margin covers the time between the lookup and the claim and clock-rate differences.
 */
@Injectable()
export class DeviceSessionCache implements OnModuleDestroy {
  private readonly entries = new Map<string, SessionLookup>();
  private readonly ttlMs: number;
  private readonly unsubscribe: () => void;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(EPHEMERAL_STORE) private readonly store: EphemeralStore,
    @Inject(DeviceSessionRepository) private readonly sessions: Pick<DeviceSessionRepository, 'find'>,
  ) {
    this.ttlMs = config.tokens.deviceSessionCacheSeconds * 1000;
    // Store data lost (or a failover behind it): every flag set before may be gone.
    this.unsubscribe = store.generation.onChange(() => this.entries.clear());
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  /** The cached copy while it is young enough, else a PostgreSQL read; undefined: no such session. */
  async lookup(authSession: string): Promise<SessionLookup | undefined> {
    const cached = this.entries.get(authSession);
    if (cached) {
      const age = this.clock.nowMs() - cached.readAtMs;
      // A clock that went back (age < 0) must not stretch an entry's life.
      if (age >= 0 && age < this.ttlMs) return cached;
      this.entries.delete(authSession);
    }
    return this.read(authSession);
  }

  /** Always PostgreSQL (the stamp and the generation are taken before the read). */
  async read(authSession: string): Promise<SessionLookup | undefined> {
    const readAtMs = this.clock.nowMs();
    const generationId = this.store.generation.current?.id;
    const session = await this.sessions.find(authSession);
    return session ? { session, fromCache: false, readAtMs, generationId } : undefined;
  }

  /** Keeps a session read from PostgreSQL that the caller accepted. */
  remember(found: SessionLookup): void {
    if (!this.enabled || found.fromCache) return;
    if (this.entries.size >= DEVICE_SESSION_CACHE_MAX) this.entries.clear();
    this.entries.set(found.session.authSession, { ...found, fromCache: true });
  }

  forget(authSession: string): void {
    this.entries.delete(authSession);
  }

  /** The flags a request using a cached copy of `authSession` asks about in its claim round trip. */
  watchKeys(authSession: string): string[] {
    return [StoreKeys.revokedSession(authSession), StoreKeys.changedSession(authSession)];
  }

  /**
   * Whether `found` may be used, given the reply of the claim that watched `watchKeys`: a fresh read
   * always; a cached copy only when no flag is set (and the flags are known: refilled) and the claim
   * was made in the generation the copy was read under.
   */
  isCurrent(found: SessionLookup, claim: Pick<WatchedClaims, 'flagged' | 'generation'>): boolean {
    if (!found.fromCache) return true;
    return claim.flagged === false && found.generationId !== undefined && claim.generation.id === found.generationId;
  }

  /**
   * Tells every token process that `authSession`'s row changed: after the PostgreSQL write, never
   * before (see the class comment). This process's copy goes at once.
   */
  async changed(authSession: string): Promise<void> {
    this.forget(authSession);
    // Set even when this process caches nothing: token processes may.
    await this.store.setFlags([{ key: StoreKeys.changedSession(authSession), ttlSeconds: SESSION_CHANGE_FLAG_SECONDS }]);
  }
}
