import type { EphemeralStore, Versioned } from './ephemeral-store';
import { parseVersioned } from './redis.store';

interface Entry {
  value: string;
  expiresAt: number;
}

/**
 * In-process store for the embedded default only (one process, nothing shared). Production mode
 * refuses it at configuration time. JavaScript runs each method to completion before another
 * starts, so check-and-set here is atomic within the process.
 */
export class MemoryStore implements EphemeralStore {
  readonly kind = 'memory' as const;
  private readonly entries = new Map<string, Entry>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    this.sweeper = setInterval(() => this.sweep(), 30_000);
    this.sweeper.unref();
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
    if (this.live(key)) return false;
    this.put(key, '1', ttlSeconds);
    return true;
  }

  async claimEachOnce(claims: readonly { key: string; ttlSeconds: number }[]): Promise<boolean[]> {
    return claims.map((c) => {
      if (this.live(c.key)) return false;
      this.put(c.key, '1', c.ttlSeconds);
      return true;
    });
  }

  async hit(key: string, windowSeconds: number): Promise<{ count: number; resetSeconds: number }> {
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

  async setFlags(flags: readonly { key: string; ttlSeconds: number }[]): Promise<void> {
    for (const f of flags) this.put(f.key, '1', Math.ceil(f.ttlSeconds));
  }

  async anyFlagged(keys: readonly string[]): Promise<boolean> {
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

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.entries.clear();
  }

  private sweep(): void {
    const now = this.now();
    for (const [k, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(k);
  }
}
