import type { Clock } from '@fpa/oauth-core';

/**
 * The app's CLOCK under a test's control. By default it follows real time, so an app built on it
 * behaves as on the SystemClock (clients sign proofs and assertions with real `iat`s); `advance`
 * moves it ahead — a challenge or a code expires without waiting and without touching what the app
 * stored — and `reset` brings it back to real time. `frozen: true` stops it (unit tests).
 */
export class TestClock implements Clock {
  private offsetMs = 0;
  private frozenAtMs: number | undefined;

  constructor(options: { nowMs?: number; frozen?: boolean } = {}) {
    if (options.frozen) this.frozenAtMs = options.nowMs ?? Date.now();
    else if (options.nowMs !== undefined) this.set(options.nowMs);
  }

  nowMs(): number {
    return this.frozenAtMs ?? Date.now() + this.offsetMs;
  }

  nowSeconds(): number {
    return Math.floor(this.nowMs() / 1000);
  }

  /** Moves time ahead by `ms` (never back: use `set` or `reset` for that). */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance takes a duration ≥ 0 in ms, got ${ms}`);
    if (this.frozenAtMs !== undefined) this.frozenAtMs += ms;
    else this.offsetMs += ms;
  }

  /** Makes it `ms` (epoch milliseconds) now; a running clock keeps running from there. */
  set(ms: number): void {
    if (!Number.isFinite(ms)) throw new RangeError(`set takes epoch milliseconds, got ${ms}`);
    if (this.frozenAtMs !== undefined) this.frozenAtMs = ms;
    else this.offsetMs = ms - Date.now();
  }

  /** Back to real time (and running). */
  reset(): void {
    this.frozenAtMs = undefined;
    this.offsetMs = 0;
  }
}
