import { MemoryStore } from './memory.store';

describe('MemoryStore (embedded default only)', () => {
  let now = 1_000_000;
  const store = new MemoryStore(() => now, { genesis: true });
  afterAll(() => store.close());

  it('claimOnce admits a key once until it expires', async () => {
    expect(await store.claimOnce('k', 10)).toBe(true);
    expect(await store.claimOnce('k', 10)).toBe(false);
    expect(await store.claimEachOnce([{ key: 'k', ttlSeconds: 10 }, { key: 'k2', ttlSeconds: 10 }])).toEqual(['replayed', 'claimed']);
    now += 11_000;
    expect(await store.claimOnce('k', 10)).toBe(true);
  });

  it('hit counts within a window and resets after it', async () => {
    expect((await store.hit('rl', 60)).count).toBe(1);
    expect((await store.hit('rl', 60)).count).toBe(2);
    now += 61_000;
    expect((await store.hit('rl', 60)).count).toBe(1);
  });

  it('unhit gives a hit back, never below zero, within the same window', async () => {
    expect((await store.hit('u', 60)).count).toBe(1);
    expect((await store.hit('u', 60)).count).toBe(2);
    await store.unhit('u');
    expect((await store.hit('u', 60)).count).toBe(2);
    await store.unhit('u');
    await store.unhit('u');
    await store.unhit('u');
    expect((await store.hit('u', 60)).count).toBe(1);
    now += 61_000;
    await store.unhit('u');
    expect((await store.hit('u', 60)).count).toBe(1);
  });

  it('flags, JSON values and takeJson (single use)', async () => {
    await store.setFlags([{ key: 'f', ttlSeconds: 5 }]);
    expect(await store.anyFlagged(['x', 'f'])).toBe(true);
    await store.setJson('j', { a: 1 }, 5);
    expect(await store.getJson('j')).toEqual({ a: 1 });
    expect(await store.takeJson('j')).toEqual({ a: 1 });
    expect(await store.takeJson('j')).toBeUndefined();
  });
});

describe('MemoryStore compare-and-set', () => {
  const store = new MemoryStore();
  afterAll(() => store.close());
  it('writes only over the expected version', async () => {
    expect(await store.compareAndSet('c', 0, { a: 1 }, 10)).toBe(true);
    expect(await store.compareAndSet('c', 0, { a: 2 }, 10)).toBe(false);
    expect(await store.getVersioned('c')).toEqual({ version: 1, value: { a: 1 } });
    expect(await store.compareAndSet('c', 1, { a: 3 }, 10)).toBe(true);
    expect(await store.compareAndDelete('c', 1)).toBe(false);
    expect(await store.compareAndDelete('c', 2)).toBe(true);
    expect(await store.getVersioned('c')).toBeUndefined();
  });
});

