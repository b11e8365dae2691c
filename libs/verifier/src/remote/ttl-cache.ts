/**
 * A small bounded cache with an expiry per entry and one load in flight per key: a hundred presentations
 * naming the same status list or issuer cause one fetch, not a hundred. Failed loads are not cached (the
 * next caller tries again; the verifier fails closed meanwhile). When full, the entry that expires first goes.
 */
export interface TtlCacheOptions {
  readonly maxEntries?: number;
  /** Milliseconds since the epoch (injected clock). */
  readonly now?: () => number;
}

export interface Loaded<V> {
  readonly value: V;
  /** Milliseconds since the epoch; at or before now = not cached at all. */
  readonly expiresAt: number;
}

export class TtlCache<V> {
  private readonly entries = new Map<string, Loaded<V> & { readonly loadedAt: number }>();
  private readonly loading = new Map<string, Promise<Loaded<V> & { readonly loadedAt: number }>>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: TtlCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 1000;
    this.now = options.now ?? Date.now;
  }

  /** The cached value (with when it was loaded), or undefined when absent or expired. */
  peek(key: string): { readonly value: V; readonly loadedAt: number } | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** The cached value, else the result of `load` (shared with every caller waiting on the same key). */
  async get(key: string, load: () => Promise<Loaded<V>>): Promise<V> {
    const hit = this.peek(key);
    if (hit) return hit.value;
    return (await this.reload(key, load)).value;
  }

  /** Loads `key` again even when cached (a key rotated in); still one load in flight per key. */
  reload(key: string, load: () => Promise<Loaded<V>>): Promise<Loaded<V> & { readonly loadedAt: number }> {
    const pending = this.loading.get(key);
    if (pending) return pending;
    const started = (async () => {
      try {
        const loaded = { ...(await load()), loadedAt: this.now() };
        if (loaded.expiresAt > this.now()) this.store(key, loaded);
        else this.entries.delete(key);
        return loaded;
      } finally {
        this.loading.delete(key);
      }
    })();
    this.loading.set(key, started);
    return started;
  }

  get size(): number {
    return this.entries.size;
  }

  private store(key: string, entry: Loaded<V> & { readonly loadedAt: number }): void {
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      let first: string | undefined;
      let firstExpiry = Infinity;
      for (const [k, e] of this.entries) {
        if (e.expiresAt < firstExpiry) {
          first = k;
          firstExpiry = e.expiresAt;
        }
      }
      if (first !== undefined) this.entries.delete(first);
    }
    this.entries.set(key, entry);
  }
}
