import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

describe('MemoryStore snapshot (the embedded default across a clean restart)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-store-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a clean shutdown hands claims, flags and the generation to the next start, which deletes the file', async () => {
    let now = 1_000_000;
    const path = join(dir, 'ephemeral-store.json');
    const first = new MemoryStore(() => now, { snapshotPath: path, genesis: true });
    expect(await first.claimOnce('jti', 60)).toBe(true);
    await first.setFlags([{ key: 'revoked', ttlSeconds: 60 }, { key: 'short', ttlSeconds: 1 }]);
    const generation = first.generation.current;
    await first.close();
    expect(statSync(path).mode & 0o777).toBe(0o600);

    now += 2000;
    const second = new MemoryStore(() => now, { snapshotPath: path });
    expect(existsSync(path)).toBe(false);
    expect(await second.syncGeneration()).toEqual(generation);
    expect(await second.claimOnce('jti', 60)).toBe(false);
    expect(await second.anyFlagged(['revoked'])).toBe(true);
    expect(await second.anyFlagged(['short'])).toBe(false);
    // No snapshot from this process yet (as after a crash): the next one starts empty, without a marker.
    const third = new MemoryStore(() => now, { snapshotPath: path });
    expect((await third.syncGeneration()).reason).toBe('missing');
    await Promise.all([second.close(), third.close()]);
  });

  it('an unreadable snapshot is ignored (and removed)', async () => {
    const path = join(dir, 'ephemeral-store.json');
    writeFileSync(path, '{not json');
    const store = new MemoryStore(Date.now, { snapshotPath: path });
    expect(existsSync(path)).toBe(false);
    expect((await store.syncGeneration()).reason).toBe('missing');
    await store.close();
  });
});
