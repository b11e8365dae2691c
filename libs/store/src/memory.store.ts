import type { Admission, Admitted, ClaimResult, EphemeralStore, Flag, SingleUseClaim, Versioned, WatchedClaims } from './ephemeral-store';
import { claimOutcome, GenerationTracker, resolveMarker, revocationsNotRestored, type MarkerReading, type StoreGeneration, type StoredMarker } from './generation';
import { takeSnapshot, writeSnapshot } from './memory-snapshot';
import { parseVersioned } from './redis.store';

interface Entry {
  value: string;
  expiresAt: number;
}

/**
 * In-process store for the embedded default only (one process, nothing shared). Production mode
 * refuses it at configuration time. JavaScript runs each method to completion before another
 * starts, so check-and-set here is atomic within the process.
 *
 * It starts empty, as Redis does after a restart without persistence: no generation marker, so the
 * first operation starts a generation (generation.ts) unless `genesis` says nothing can predate it.
 * The embedded default's keeper decides that from PostgreSQL at start-up. With `snapshotPath` (the
 * embedded default) a clean shutdown hands everything to the next start (memory-snapshot.ts), so
 * only a crash is a loss: values accepted by the crashed process are refused after it.
 */
export class MemoryStore implements EphemeralStore {
  readonly kind = 'memory' as const;
  readonly generation = new GenerationTracker();
  private readonly entries = new Map<string, Entry>();
  private readonly sweeper: NodeJS.Timeout;
  private marker: StoredMarker | undefined;

  private readonly snapshotPath: string | undefined;

  /** `genesis: true` starts with a first generation (unit tests of code that claims or checks flags). */
  constructor(
    private readonly now: () => number = Date.now,
    options: { readonly genesis?: boolean; readonly snapshotPath?: string } = {},
  ) {
    this.sweeper = setInterval(() => this.sweep(), 30_000);
    this.sweeper.unref();
    this.snapshotPath = options.snapshotPath;
    const snapshot = this.snapshotPath ? takeSnapshot(this.snapshotPath) : undefined;
    if (snapshot) {
      this.marker = snapshot.marker;
      for (const [key, value, expiresAt] of snapshot.entries) if (expiresAt > this.now()) this.entries.set(key, { value, expiresAt });
    }
    if (options.genesis) this.readMarker(false, true);
  }

  /** RedisStore's GENERATION_LUA, in-process: read (or start) the generation, count this process's claim. */
  private readMarker(countClaim: boolean, genesis = false): StoreGeneration {
    const { marker, reason } = resolveMarker(this.marker, this.generation.expectation(), { nowMs: this.now(), replicaId: this.generation.replicaId, genesis });
    this.marker = marker;
    const id = this.generation.replicaId;
    if (countClaim) marker.seqs.set(id, (marker.seqs.get(id) ?? 0) + 1);
    const reading: MarkerReading = { generation: marker.generation, seq: marker.seqs.get(id) ?? 0, established: reason !== undefined };
    return this.generation.observe(reading);
  }

  private live(key: string): Entry | undefined {
    const e = this.entries.get(key);
    if (e && e.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  private put(key: string, value: string, ttlSeconds: number): void {
    this.entries.set(key, { value, expiresAt: this.now() + Math.max(1, ttlSeconds) * 1000 });
  }

  async claimOnce(key: string, ttlSeconds: number): Promise<boolean> {
    return (await this.claimEachOnce([{ key, ttlSeconds }]))[0] === 'claimed';
  }

  async claimEachOnce(claims: readonly SingleUseClaim[]): Promise<ClaimResult[]> {
    return claims.length === 0 ? [] : this.claimNow(claims, []).results;
  }

  async claimEachOnceWatching(claims: readonly SingleUseClaim[], watch: readonly string[]): Promise<WatchedClaims> {
    if (claims.length === 0) throw new Error('claimEachOnceWatching needs at least one claim');
    return this.claimNow(claims, watch);
  }

  /** Synchronous, so `admit` runs it in the same step as its hits (RedisStore's scripts). */
  private claimNow(claims: readonly SingleUseClaim[], watch: readonly string[]): WatchedClaims {
    const generation = this.readMarker(true);
    const results = claims.map((c) => {
      const fresh = !this.live(c.key);
      if (fresh) this.put(c.key, '1', c.ttlSeconds);
      return claimOutcome(fresh, c.acceptableSince, generation);
    });
    if (watch.length === 0) return { results, flagged: false, values: [], generation };
    if (generation.restoredAtMs === undefined) return { results, flagged: undefined, values: undefined, generation };
    const values = watch.map((k) => this.live(k)?.value ?? null);
    return { results, flagged: values.some((v) => v !== null), values, generation };
  }

  async hit(key: string, windowSeconds: number): Promise<{ count: number; resetSeconds: number }> {
    return this.hitNow(key, windowSeconds);
  }

  /** RedisStore's ADMIT_SCRIPT: each step runs to completion before another operation starts. */
  async admit<T>(a: Admission): Promise<Admitted<T>> {
    for (const [index, h] of a.hits.entries()) {
      const { count, resetSeconds } = this.hitNow(h.key, h.windowSeconds);
      if (count > h.limit) return { limited: { index, resetSeconds } };
    }
    const claims = a.claims.length === 0 ? [] : this.claimNow(a.claims, []).results;
    return { claims, value: a.read === undefined ? undefined : parseVersioned<T>(this.live(a.read)?.value) };
  }

  private hitNow(key: string, windowSeconds: number): { count: number; resetSeconds: number } {
    const e = this.live(key);
    if (!e) {
      this.put(key, '1', windowSeconds);
      return { count: 1, resetSeconds: windowSeconds };
    }
    e.value = String(Number(e.value) + 1);
    return { count: Number(e.value), resetSeconds: Math.max(1, Math.ceil((e.expiresAt - this.now()) / 1000)) };
  }

  async unhit(key: string): Promise<void> {
    const e = this.live(key);
    if (e && Number(e.value) > 0) e.value = String(Number(e.value) - 1);
  }

  async setFlags(flags: readonly Flag[]): Promise<void> {
    for (const f of flags) this.put(f.key, f.value ?? '1', Math.ceil(f.ttlSeconds));
  }

  async anyFlagged(keys: readonly string[]): Promise<boolean> {
    if (keys.length === 0) return false;
    if (this.readMarker(false).restoredAtMs === undefined) throw revocationsNotRestored();
    return keys.some((k) => this.live(k) !== undefined);
  }

  async getJson<T>(key: string): Promise<T | undefined> {
    const e = this.live(key);
    return e ? (JSON.parse(e.value) as T) : undefined;
  }

  async setJson(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    this.put(key, JSON.stringify(value), Math.ceil(ttlSeconds));
  }

  async takeJson<T>(key: string): Promise<T | undefined> {
    const e = this.live(key);
    if (!e) return undefined;
    this.entries.delete(key);
    return JSON.parse(e.value) as T;
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }

  async getVersioned<T>(key: string): Promise<Versioned<T> | undefined> {
    return parseVersioned<T>(this.live(key)?.value);
  }

  async compareAndSet(key: string, expected: number, value: unknown, ttlSeconds: number): Promise<boolean> {
    const current = this.live(key);
    const version = current ? Number(current.value.slice(0, current.value.indexOf('|'))) : 0;
    if (version !== expected) return false;
    this.put(key, `${version + 1}|${JSON.stringify(value)}`, Math.ceil(ttlSeconds));
    return true;
  }

  async compareAndDelete(key: string, expected: number): Promise<boolean> {
    const current = this.live(key);
    const version = current ? Number(current.value.slice(0, current.value.indexOf('|'))) : 0;
    if (version !== expected) return false;
    this.entries.delete(key);
    return true;
  }

  async syncGeneration(options: { readonly genesis?: boolean } = {}): Promise<StoreGeneration> {
    return this.readMarker(false, options.genesis === true);
  }

  async markRevocationsRestored(epoch: number, atMs: number): Promise<boolean> {
    const m = this.marker;
    if (!m || m.generation.epoch !== epoch) return false;
    this.marker = { ...m, generation: { ...m.generation, restoredAtMs: m.generation.restoredAtMs ?? atMs } };
    this.readMarker(false);
    return true;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    // Only a store that took part in a generation hands on (not a process that failed to start).
    if (this.snapshotPath && this.marker) {
      this.sweep();
      writeSnapshot(this.snapshotPath, { marker: this.marker, entries: [...this.entries].map(([k, e]) => [k, e.value, e.expiresAt] as const) });
    }
    this.entries.clear();
    this.marker = undefined;
  }

  private sweep(): void {
    const now = this.now();
    for (const [k, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(k);
  }
}
