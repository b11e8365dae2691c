import { randomBytes } from 'node:crypto';
import { MemoryStore, RedisStore, StoreKeys, type EphemeralStore } from '@fpa/store';
import { deleteRedisPrefix, storeUrls } from '@fpa/testing';

/**
 * `EphemeralStore.admit` (issue 13): rate limits, single-use claims and a versioned read in one
 * atomic step — the same rules in RedisStore's script and in MemoryStore (the embedded default).
 */
const { redisUrl } = storeUrls();
interface Made {
  readonly store: EphemeralStore;
  /** The store loses its data (a restart without persistence). */
  readonly lose: () => Promise<void>;
  readonly cleanup: () => Promise<void>;
}
const stores: [string, () => Promise<Made>][] = [
  [
    'MemoryStore',
    async () => {
      const store = new MemoryStore(Date.now, { genesis: true });
      // close() empties it, marker included, as a crash does.
      return { store, lose: () => store.close(), cleanup: async () => undefined };
    },
  ],
  [
    'RedisStore',
    async () => {
      const prefix = `fpa-test:admit-${randomBytes(6).toString('hex')}:`;
      const store = new RedisStore(redisUrl, prefix);
      await store.connect();
      await store.syncGeneration({ genesis: true });
      return { store, lose: () => store.delete(StoreKeys.generation), cleanup: async () => void (await deleteRedisPrefix(redisUrl, prefix)) };
    },
  ],
];

describe.each(stores)('%s.admit', (_name, make) => {
  let store: EphemeralStore;
  let lose: () => Promise<void>;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ store, lose, cleanup } = await make()));
  afterEach(async () => {
    await store.close();
    await cleanup();
  });

  const hit = (key: string, limit: number) => ({ key: `rl:${key}`, windowSeconds: 60, limit });
  const claim = (key: string) => ({ key: `jti:${key}`, ttlSeconds: 60 });

  it('counts the hits, claims once and reads the versioned value, in one step', async () => {
    expect(await store.compareAndSet('flow', 0, { a: 1 }, 60)).toBe(true);
    const first = await store.admit<{ a: number }>({ hits: [hit('ip', 5), hit('session', 5)], claims: [claim('one'), claim('two')], read: 'flow' });
    expect(first).toEqual({ claims: ['claimed', 'claimed'], value: { version: 1, value: { a: 1 } } });
    const again = await store.admit({ hits: [hit('ip', 5)], claims: [claim('one')], read: 'absent' });
    expect(again).toEqual({ claims: ['replayed'], value: undefined });
    expect((await store.hit('rl:ip', 60)).count).toBe(3);
    expect((await store.hit('rl:session', 60)).count).toBe(2);
    // Claims made through admit are the ones claimEachOnce sees, and the reverse.
    expect(await store.claimEachOnce([claim('two'), claim('three')])).toEqual(['replayed', 'claimed']);
    expect(await store.admit({ hits: [], claims: [claim('three')] })).toEqual({ claims: ['replayed'], value: undefined });
  });

  it('stops at the first hit over its limit: nothing after it is counted, claimed or read', async () => {
    await store.admit({ hits: [hit('ip', 1)], claims: [] });
    const limited = await store.admit({ hits: [hit('ip', 1), hit('session', 1)], claims: [claim('x')], read: 'flow' });
    expect(limited).toEqual({ limited: { index: 0, resetSeconds: expect.any(Number) } });
    if (!limited.limited) throw new Error('expected a limit');
    expect(limited.limited.resetSeconds).toBeGreaterThanOrEqual(1);
    expect(limited.limited.resetSeconds).toBeLessThanOrEqual(60);
    expect((await store.hit('rl:session', 60)).count).toBe(1);
    expect(await store.claimEachOnce([claim('x')])).toEqual(['claimed']);
    // The second hit over its limit: the first is counted, nothing is claimed.
    const second = await store.admit({ hits: [hit('other', 10), hit('session', 1)], claims: [claim('y')] });
    expect(second).toMatchObject({ limited: { index: 1 } });
    expect((await store.hit('rl:other', 60)).count).toBe(2);
    expect(await store.claimEachOnce([claim('y')])).toEqual(['claimed']);
  });

  it('refuses a value that could have been accepted before the store lost its data (generation.ts)', async () => {
    await store.admit({ hits: [], claims: [claim('before')] });
    await lose();
    const nowSeconds = Math.floor(Date.now() / 1000);
    const after = await store.admit({ hits: [], claims: [{ ...claim('old'), acceptableSince: nowSeconds - 30 }, { ...claim('new'), acceptableSince: nowSeconds + 30 }] });
    expect(after).toEqual({ claims: ['predates_generation', 'claimed'], value: undefined });
    expect(store.generation.current?.reason).toBe('missing');
  });
});
