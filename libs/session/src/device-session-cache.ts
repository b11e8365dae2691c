import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { randomToken } from '@fpa/crypto';
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

/** The value of a flag set without one: never a tag (it cannot tell one change from the next). */
const UNVERSIONED_FLAG = '1';

/** A device session as a token request found it: from this process's cache, or just read from PostgreSQL. */
export interface SessionLookup {
  readonly session: DeviceSession;
  /** True: a cached copy, usable only once the request's claim round trip found it current (`isCurrent`). */
  readonly fromCache: boolean;
  /** The process clock (ms) before the PostgreSQL read that produced it. */
  readonly readAtMs: number;
  /** The store generation this process knew before that read (undefined: none yet). */
  readonly generationId: string | undefined;
  /**
   * The session's "changed" flag as a claim reported it BEFORE that read (null: absent, or not
   * observed). The copy is current only while the flag still has exactly this value.
   */
  readonly changeTag: string | null;
}

/** What a claim round trip that watched `watchKeys` reported. */
export type WatchReply = Pick<WatchedClaims, 'values' | 'generation'>;

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
 *
 * The "changed" flag carries a fresh random value per change, so a session that changed recently is
 * not re-read for the flag's whole 360 s: a copy re-read AFTER a claim reported value V (`changeTag`)
 * stays current while the flag is still V. Same argument: a write that read did not see committed
 * after the read began, so after V was observed; its writer then sets a value other than V (random)
 * before returning, and that value (or a later one, never V again) is what every later claim sees
 * during the entry's life. A copy read with no observation before it has tag null: current only
 * while the flag is absent, exactly as above.
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

  /**
   * Always PostgreSQL (the stamp and the generation are taken before the read). `after`: the claim
   * reply that found a cached copy stale, received before this read — its "changed" value becomes
   * the new copy's tag when it was observed in the generation the read is stamped with.
   */
  async read(authSession: string, after?: WatchReply): Promise<SessionLookup | undefined> {
    const readAtMs = this.clock.nowMs();
    const generationId = this.store.generation.current?.id;
    const seen = after?.values !== undefined && generationId !== undefined && after.generation.id === generationId ? (after.values[1] ?? null) : null;
    // '1' is the unversioned value (setFlags' default, and what writers before the random values set
    // during a rolling upgrade): it repeats, so it cannot tell two changes apart — no tag.
    const changeTag = seen === UNVERSIONED_FLAG ? null : seen;
    const session = await this.sessions.find(authSession);
    return session ? { session, fromCache: false, readAtMs, generationId, changeTag } : undefined;
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

  /** The flags a request using a cached copy of `authSession` asks about in its claim round trip: revoked, then changed (`isCurrent` reads them in this order). */
  watchKeys(authSession: string): string[] {
    return [StoreKeys.revokedSession(authSession), StoreKeys.changedSession(authSession)];
  }

  /**
   * Whether `found` may be used, given the reply of the claim that watched `watchKeys`: a fresh read
   * always; a cached copy only when the flags are known (refilled), the session is not revoked, its
   * "changed" flag still has the value the copy was tagged with, and the claim was made in the
   * generation the copy was read under.
   */
  isCurrent(found: SessionLookup, claim: WatchReply): boolean {
    if (!found.fromCache) return true;
    if (claim.values === undefined || found.generationId === undefined || claim.generation.id !== found.generationId) return false;
    const [revoked, changed] = claim.values;
    return revoked === null && (changed ?? null) === found.changeTag;
  }

  /**
   * Tells every token process that `authSession`'s row changed: after the PostgreSQL write, never
   * before (see the class comment). This process's copy goes at once.
   */
  async changed(authSession: string): Promise<void> {
    this.forget(authSession);
    // Set even when this process caches nothing: token processes may. A new value per change (CSPRNG,
    // never one a reader tagged a copy with).
    await this.store.setFlags([{ key: StoreKeys.changedSession(authSession), ttlSeconds: SESSION_CHANGE_FLAG_SECONDS, value: randomToken(16) }]);
  }
}
