import { randomUUID } from 'node:crypto';
import { type DynamicModule, Module } from '@nestjs/common';
import type { AppConfig } from '@fpa/config';
import { PlatformModule } from '@fpa/platform';
import { AttemptLimiter, UsersModule, type AttemptCharge } from '@fpa/users';
import { startApp, type RunningApp } from '@fpa/testing/app';

const THRESHOLD = 3;
const BASE = 60;
const MAX = 300;
const RESET = 3600;
const T0 = Date.UTC(2027, 0, 15, 8, 0, 0);
const at = (seconds: number): Date => new Date(T0 + seconds * 1000);

/** The platform (PostgreSQL with the real migrations) and the users library, nothing else. */
@Module({})
class UsersOnPostgresModule {
  static forRoot(config: AppConfig): DynamicModule {
    return { module: UsersOnPostgresModule, imports: [PlatformModule.forRoot(config), UsersModule] };
  }
}

/**
 * Issue 7, finding 2: wrong answers counted per secret in PostgreSQL, with lockout and doubling
 * backoff. Time is the explicit `now` of each call; nothing sleeps.
 */
describe('AttemptLimiter on PostgreSQL (threshold, lock, backoff, reset, refund, succeed, races)', () => {
  let suite: RunningApp;
  let limiter: AttemptLimiter;

  beforeAll(async () => {
    suite = await startApp({
      label: 'attemptlimiter',
      module: (c) => UsersOnPostgresModule.forRoot(c),
      overrides: {
        AUTH_LOCKOUT_THRESHOLD: String(THRESHOLD),
        AUTH_LOCKOUT_SECONDS: String(BASE),
        AUTH_LOCKOUT_MAX_SECONDS: String(MAX),
        AUTH_LOCKOUT_RESET_SECONDS: String(RESET),
        DATABASE_POOL_SIZE: '20',
      },
    });
    limiter = suite.get(AttemptLimiter);
  });
  afterAll(async () => suite?.close());

  const newKey = (): string => `totp:${randomUUID()}`;
  const allowed = (failures: number): AttemptCharge => ({ allowed: true, failures });
  const refused = (retryAfterSeconds: number): AttemptCharge => ({ allowed: false, retryAfterSeconds });
  /** `n` charges at one instant, one after the other. */
  const charges = async (key: string, n: number, now: Date): Promise<AttemptCharge[]> => {
    const out: AttemptCharge[] = [];
    for (let i = 0; i < n; i++) out.push(await limiter.charge(key, now));
    return out;
  };

  it('admits `threshold` attempts, the last of which locks the key for AUTH_LOCKOUT_SECONDS', async () => {
    const key = newKey();
    await expect(charges(key, THRESHOLD, at(0))).resolves.toEqual([allowed(1), allowed(2), allowed(3)]);
    await expect(limiter.charge(key, at(0))).resolves.toEqual(refused(BASE));
    await expect(limiter.charge(key, at(BASE - 1))).resolves.toEqual(refused(1));
  });

  it('a refused attempt changes nothing; each attempt after a lock doubles it, up to AUTH_LOCKOUT_MAX_SECONDS', async () => {
    const key = newKey();
    await charges(key, THRESHOLD, at(0));
    await expect(charges(key, 5, at(30))).resolves.toEqual(Array(5).fill(refused(30)));
    // 60 s, then 120, 240, and 300 (480 capped), 300 (960 capped).
    let t = BASE;
    for (const [failures, lock] of [
      [4, 120],
      [5, 240],
      [6, MAX],
      [7, MAX],
    ]) {
      await expect(limiter.charge(key, at(t))).resolves.toEqual(allowed(failures));
      await expect(limiter.charge(key, at(t + 1))).resolves.toEqual(refused(lock - 1));
      await expect(limiter.charge(key, at(t + lock - 1))).resolves.toEqual(refused(1));
      t += lock;
    }
  });

  it('failures are forgotten after AUTH_LOCKOUT_RESET_SECONDS without one, not before', async () => {
    const kept = newKey();
    await charges(kept, 2, at(0));
    await expect(limiter.charge(kept, at(RESET))).resolves.toEqual(allowed(3));
    const forgotten = newKey();
    await charges(forgotten, 2, at(0));
    await expect(limiter.charge(forgotten, at(RESET + 1))).resolves.toEqual(allowed(1));
    const lockedThenForgotten = newKey();
    await charges(lockedThenForgotten, THRESHOLD, at(0));
    await expect(charges(lockedThenForgotten, 2, at(RESET + 1))).resolves.toEqual([allowed(1), allowed(2)]);
  });

  it('refund gives one charge back (a malformed answer checked nothing)', async () => {
    const key = newKey();
    await charges(key, 2, at(0));
    await limiter.refund(key);
    await expect(limiter.charge(key, at(1))).resolves.toEqual(allowed(2));
    await limiter.refund(newKey()); // an unknown key: nothing to give back, no error
  });

  it('refunding the only charge leaves no row behind: a refused answer stores nothing (issue 8)', async () => {
    const key = newKey();
    const rows = async (): Promise<number> => Number((await suite.env.db.query<{ n: string }>('SELECT count(*) AS n FROM auth_attempts'))[0].n);
    const before = await rows();
    await charges(key, 1, at(0));
    expect(await rows()).toBe(before + 1);
    await limiter.refund(key);
    expect(await rows()).toBe(before);
    await expect(limiter.charge(key, at(1))).resolves.toEqual(allowed(1));
  });

  it('a refunded charge at the threshold leaves the key unlocked: the next answer is still checked', async () => {
    const key = newKey();
    await charges(key, THRESHOLD - 1, at(0));
    await expect(limiter.charge(key, at(1))).resolves.toEqual(allowed(THRESHOLD));
    await limiter.refund(key);
    await expect(limiter.charge(key, at(2))).resolves.toEqual(allowed(THRESHOLD));
    await expect(limiter.charge(key, at(2))).resolves.toEqual(refused(BASE));
  });

  it('succeed forgets the failures and lifts the lock its own charge set', async () => {
    const key = newKey();
    await charges(key, THRESHOLD, at(0));
    await limiter.succeed(key);
    await expect(limiter.charge(key, at(1))).resolves.toEqual(allowed(1));
  });

  it('keys are independent and stored hashed (they name addresses)', async () => {
    const [a, b] = [`email:${randomUUID()}@example.com`, newKey()];
    await charges(a, THRESHOLD, at(0));
    await expect(limiter.charge(b, at(0))).resolves.toEqual(allowed(1));
    const rows = await suite.env.db.query<{ key_hash: string }>('SELECT key_hash FROM auth_attempts');
    expect(rows.map((r) => r.key_hash)).not.toContain(a);
    expect(rows.every((r) => /^[A-Za-z0-9_-]{43}$/.test(r.key_hash))).toBe(true);
  });

  it('50 concurrent charges against a fresh key admit exactly `threshold`', async () => {
    const key = newKey();
    const results = await Promise.all(Array.from({ length: 50 }, () => limiter.charge(key, at(0))));
    const admitted = results.filter((r) => r.allowed);
    expect(admitted).toHaveLength(THRESHOLD);
    expect(admitted.map((r) => (r as { failures: number }).failures).sort()).toEqual([1, 2, 3]);
    expect(results.filter((r) => !r.allowed)).toEqual(Array(50 - THRESHOLD).fill(refused(BASE)));
  });

  it('50 concurrent charges against a key one short of the threshold admit exactly one', async () => {
    const key = newKey();
    await charges(key, THRESHOLD - 1, at(0));
    const results = await Promise.all(Array.from({ length: 50 }, () => limiter.charge(key, at(1))));
    expect(results.filter((r) => r.allowed)).toEqual([allowed(THRESHOLD)]);
  });
});
