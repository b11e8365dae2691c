import { OAuthError } from '@fpa/oauth-core';
import { acceptableSince, GenerationTracker, predatesGeneration, resolveMarker, type GenerationChange, type StoreGeneration } from './generation';
import { MemoryStore } from './memory.store';

/** Issue 8: what the store refuses after it lost data, with a fake clock (epoch ms). */
describe('store generations', () => {
  const T = 1_800_000_000_000;
  const SKEW = 5;
  const s = (ms: number): number => Math.floor(ms / 1000);

  describe('acceptableSince: the earliest moment any replica could have accepted a value', () => {
    it('a DPoP proof: its iat minus the clock skew (an iat up to the skew ahead is accepted)', () => {
      expect(acceptableSince({ issuedAt: 1000, skewSeconds: SKEW })).toBe(995);
    });

    it('an assertion: the later of iat and exp − the longest lifetime accepted, minus the skew', () => {
      expect(acceptableSince({ issuedAt: 1000, expiresAt: 1060, maxLifetimeSeconds: 300, skewSeconds: SKEW })).toBe(995);
      // An iat set far back does not make an assertion with a late exp look old.
      expect(acceptableSince({ issuedAt: 100, expiresAt: 1300, maxLifetimeSeconds: 300, skewSeconds: SKEW })).toBe(995);
      // Without iat: exp − ASSERTION_MAX_LIFETIME_SECONDS.
      expect(acceptableSince({ expiresAt: 1300, maxLifetimeSeconds: 300, skewSeconds: SKEW })).toBe(995);
    });

    it('a value with neither (or with non-numeric claims) cannot be placed in time: −Infinity', () => {
      expect(acceptableSince({ skewSeconds: SKEW })).toBe(-Infinity);
      expect(acceptableSince({ issuedAt: '1000', expiresAt: null, maxLifetimeSeconds: 300, skewSeconds: SKEW })).toBe(-Infinity);
    });
  });

  describe('predatesGeneration', () => {
    const generation = { startedAtMs: T };
    it('refuses what could have been accepted before the generation started, to the millisecond', () => {
      expect(predatesGeneration(s(T) - 1, generation)).toBe(true);
      expect(predatesGeneration(s(T), generation)).toBe(false);
      expect(predatesGeneration(s(T) - 1, { startedAtMs: T - 1 })).toBe(true);
      expect(predatesGeneration(s(T - 1000), { startedAtMs: T - 1000 })).toBe(false);
    });

    it('nothing predates a genesis generation (started 0), not even a value that cannot be placed in time', () => {
      expect(predatesGeneration(0, { startedAtMs: 0 })).toBe(false);
      expect(predatesGeneration(-Infinity, { startedAtMs: 0 })).toBe(true);
    });

    it('with the skew: a proof stamped up to the skew ahead and accepted just before the loss is refused after it', () => {
      // Accepted at T − 1 s by a replica whose check allows iat ≤ now + 5 s.
      const iat = s(T - 1000) + SKEW;
      expect(predatesGeneration(acceptableSince({ issuedAt: iat, skewSeconds: SKEW }), generation)).toBe(true);
      // A proof made with an exact clock just after the loss is refused for the skew, then accepted.
      expect(predatesGeneration(acceptableSince({ issuedAt: s(T) + 1, skewSeconds: SKEW }), generation)).toBe(true);
      expect(predatesGeneration(acceptableSince({ issuedAt: s(T) + SKEW, skewSeconds: SKEW }), generation)).toBe(false);
    });
  });

  describe('GenerationTracker', () => {
    const gen = (epoch: number, extra: Partial<StoreGeneration> = {}): StoreGeneration => ({ epoch, id: `r-${epoch}`, startedAtMs: T, restoredAtMs: undefined, reason: 'missing', ...extra });

    it('announces a newer generation once, keeps the highest claim count, ignores answers about older ones', () => {
      const tracker = new GenerationTracker();
      const changes: GenerationChange[] = [];
      tracker.onChange((c) => changes.push(c));
      tracker.observe({ generation: gen(1), seq: 3, established: true });
      tracker.observe({ generation: gen(1), seq: 2, established: false });
      expect(tracker.expectation()).toEqual({ epoch: 1, id: 'r-1', seq: 3 });
      tracker.observe({ generation: gen(2), seq: 1, established: false });
      tracker.observe({ generation: gen(1), seq: 9, established: false });
      expect(tracker.expectation()).toEqual({ epoch: 2, id: 'r-2', seq: 1 });
      expect(changes.map((c) => [c.generation.epoch, c.previous?.epoch, c.establishedHere])).toEqual([
        [1, undefined, true],
        [2, 1, false],
      ]);
    });

    it('learns that the flags were restored; seed raises what it knows without announcing', () => {
      const tracker = new GenerationTracker();
      const changes: GenerationChange[] = [];
      tracker.onChange((c) => changes.push(c));
      tracker.seed(gen(4));
      tracker.seed(gen(2));
      expect(tracker.expectation()).toEqual({ epoch: 4, id: 'r-4', seq: 0 });
      tracker.observe({ generation: gen(4, { restoredAtMs: T + 10 }), seq: 1, established: false });
      expect(tracker.current?.restoredAtMs).toBe(T + 10);
      expect(changes).toEqual([]);
    });

    it("a listener's failure does not fail the operation", () => {
      const tracker = new GenerationTracker();
      tracker.onChange(() => {
        throw new Error('boom');
      });
      expect(tracker.observe({ generation: gen(1), seq: 1, established: true }).epoch).toBe(1);
    });
  });

  describe('resolveMarker (the rules of the Lua script)', () => {
    const stored = (seq: number) => ({ generation: { epoch: 3, id: 'a-3', startedAtMs: T, restoredAtMs: T, reason: 'missing' as const }, seqs: new Map([['me', seq]]) });
    const options = { nowMs: T + 5000, replicaId: 'me', genesis: false };

    it('keeps a marker that continues what the caller knows', () => {
      expect(resolveMarker(stored(7), { epoch: 3, id: 'a-3', seq: 7 }, options).reason).toBeUndefined();
      // Another replica's claims, or a newer generation the caller has not heard of yet.
      expect(resolveMarker(stored(7), { epoch: 3, id: 'a-3', seq: 2 }, options).reason).toBeUndefined();
      expect(resolveMarker(stored(0), { epoch: 2, id: 'b-2', seq: 40 }, options).reason).toBeUndefined();
    });

    it("a failover to a replica that missed this process's last claims: its count went back, the next generation starts", () => {
      const { marker, reason } = resolveMarker(stored(5), { epoch: 3, id: 'a-3', seq: 7 }, options);
      expect(reason).toBe('regressed');
      expect(marker.generation).toEqual({ epoch: 4, id: 'me-4', startedAtMs: T + 5000, restoredAtMs: undefined, reason: 'regressed' });
    });

    it('an older generation, or another generation under the same epoch, is behind too', () => {
      expect(resolveMarker(stored(9), { epoch: 5, id: 'c-5', seq: 0 }, options).marker.generation.epoch).toBe(6);
      expect(resolveMarker(stored(9), { epoch: 3, id: 'x-3', seq: 0 }, options).reason).toBe('regressed');
    });
  });

  describe('MemoryStore (the Lua rules in-process)', () => {
    let now: number;
    let store: MemoryStore;
    beforeEach(() => {
      now = T;
      store = new MemoryStore(() => now);
    });
    afterEach(() => store.close());

    const proof = (key: string, iat: number) => ({ key, ttlSeconds: 70, acceptableSince: acceptableSince({ issuedAt: iat, skewSeconds: SKEW }) });

    it('an empty store starts a generation at its first claim: everything that could have been accepted before is refused', async () => {
      expect(await store.claimEachOnce([proof('a', s(T) - 10), proof('b', s(T) + SKEW)])).toEqual(['predates_generation', 'claimed']);
      expect(store.generation.current).toMatchObject({ epoch: 1, startedAtMs: T, reason: 'missing', restoredAtMs: undefined });
      // A key the server made itself (a resend slot, a lock) has no issuance rule.
      expect(await store.claimOnce('slot', 10)).toBe(true);
      // Refused until the value would have expired anyway (its key is now spent too); never claimed twice.
      now += 30_000;
      expect(await store.claimEachOnce([proof('a', s(T) - 10), proof('b', s(T) + SKEW)])).toEqual(['replayed', 'replayed']);
      expect(await store.claimEachOnce([proof('c', s(T) - 10)])).toEqual(['predates_generation']);
    });

    it('genesis: nothing predates the first generation of a deployment, and its flags need no refill', async () => {
      const g = await store.syncGeneration({ genesis: true });
      expect(g).toMatchObject({ epoch: 1, startedAtMs: 0, restoredAtMs: T, reason: 'genesis' });
      expect(await store.claimEachOnce([proof('a', s(T) - 50)])).toEqual(['claimed']);
      await store.setFlags([{ key: 'f', ttlSeconds: 60 }]);
      await expect(store.anyFlagged(['f'])).resolves.toBe(true);
    });

    it('flag checks fail closed (503, Retry-After) until the generation is marked restored; only the current generation can be', async () => {
      await store.setFlags([{ key: 'revoked', ttlSeconds: 60 }]);
      const closed = store.anyFlagged(['revoked']);
      await expect(closed).rejects.toBeInstanceOf(OAuthError);
      await expect(closed).rejects.toMatchObject({ code: 'temporarily_unavailable', status: 503, headers: { 'Retry-After': '5' }, reason: 'revocations_not_restored' });
      const epoch = store.generation.current!.epoch;
      expect(await store.markRevocationsRestored(epoch + 1, now)).toBe(false);
      await expect(store.anyFlagged(['revoked'])).rejects.toMatchObject({ reason: 'revocations_not_restored' });
      expect(await store.markRevocationsRestored(epoch, now)).toBe(true);
      expect(store.generation.current?.restoredAtMs).toBe(now);
      await expect(store.anyFlagged(['revoked'])).resolves.toBe(true);
      await expect(store.anyFlagged(['other'])).resolves.toBe(false);
    });

    it('a marker behind what this process knows (an older generation, or fewer of its own claims) starts the next one', async () => {
      await store.syncGeneration({ genesis: true });
      // PostgreSQL recorded generation 3 (another store's history): the marker's 1 is behind.
      store.generation.seed({ epoch: 3, id: 'x-3', startedAtMs: T - 60_000, restoredAtMs: T - 59_000, reason: 'missing' });
      now += 1000;
      const g = await store.syncGeneration();
      expect(g).toMatchObject({ epoch: 4, reason: 'regressed', startedAtMs: T + 1000, restoredAtMs: undefined });
      const changes: GenerationChange[] = [];
      store.generation.onChange((c) => changes.push(c));
      expect(await store.syncGeneration()).toBe(g);
      expect(changes).toEqual([]);
    });

    it('a new process on an empty in-process store (a restart of the embedded default) refuses what the previous one accepted', async () => {
      await store.syncGeneration({ genesis: true });
      expect(await store.claimEachOnce([proof('p', s(now))])).toEqual(['claimed']);
      const record = store.generation.current!;
      await store.close();
      now += 2000;
      store = new MemoryStore(() => now);
      store.generation.seed(record);
      const started = await store.syncGeneration();
      expect(started).toMatchObject({ epoch: 2, reason: 'missing', startedAtMs: now });
      expect(await store.claimEachOnce([proof('p', s(T))])).toEqual(['predates_generation']);
      now += SKEW * 1000 + 1000;
      expect(await store.claimEachOnce([proof('fresh', s(now))])).toEqual(['claimed']);
    });
  });
});
