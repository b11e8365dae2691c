import { Logger } from '@nestjs/common';
import { generateClientKeyPair, type ClientKeyPair } from '@fpa/crypto';
import type { FixedClock } from '@fpa/oauth-core';
import { counted, FakeJwksSource, testClock, testConfig, testMetrics } from '../testing/fakes';
import type { TokenMetrics } from '../token.metrics';
import { JwksFetchError } from './jwks-fetcher';
import { RemoteKeySets } from './remote-key-sets';

const URI = 'https://svc.example.com/jwks';

/**
 * The jwks_uri cache on a fake clock and a fake source: lifetimes (CLIENT_JWKS_CACHE_*), the
 * refetch cooldown (30 s), coalescing, the stale grace (600 s) and private keys (JWTCA-8, issue 9).
 */
describe('RemoteKeySets (client jwks_uri cache)', () => {
  let clock: FixedClock;
  let source: FakeJwksSource;
  let metrics: TokenMetrics;
  let sets: RemoteKeySets;
  let keys: ClientKeyPair[];
  beforeAll(async () => {
    keys = await Promise.all([generateClientKeyPair('ES256'), generateClientKeyPair('ES256')]);
  });
  beforeEach(() => {
    clock = testClock();
    source = new FakeJwksSource();
    metrics = testMetrics().token;
    sets = new RemoteKeySets(testConfig(), clock, source, metrics);
    source.serve(URI, { keys: [{ ...keys[0].publicJwk, kid: 'k1' }] });
  });
  const current = (): ReturnType<RemoteKeySets['current']> => sets.current(URI, 'svc');

  describe('lifetime', () => {
    it('without Cache-Control: CLIENT_JWKS_CACHE_SECONDS (300 s), then one refetch', async () => {
      const first = await current();
      clock.advance(299);
      expect(await current()).toBe(first);
      expect(source.fetches).toHaveLength(1);
      clock.advance(1);
      expect(await current()).not.toBe(first);
      expect(source.fetches).toHaveLength(2);
    });

    it('max-age is honoured within [60 s, 24 h]; no-store counts as the minimum', async () => {
      for (const [maxAge, lifetime] of [
        [120, 120],
        [10, 60],
        [0, 60],
        [10_000_000, 86_400],
      ]) {
        const uri = `${URI}/${maxAge}`;
        source.serve(uri, { keys: [keys[0].publicJwk] }, maxAge);
        await sets.current(uri, 'svc');
        clock.advance(lifetime - 1);
        await sets.current(uri, 'svc');
        expect({ maxAge, fetches: source.fetches.filter((u) => u === uri).length }).toEqual({ maxAge, fetches: 1 });
        clock.advance(1);
        await sets.current(uri, 'svc');
        expect({ maxAge, fetches: source.fetches.filter((u) => u === uri).length }).toEqual({ maxAge, fetches: 2 });
      }
    });
  });

  describe('an unknown kid: one refetch per cooldown (CLIENT_JWKS_REFETCH_COOLDOWN_SECONDS = 30)', () => {
    it('within 30 s of the last fetch nothing is fetched; after it, once', async () => {
      await current();
      clock.advance(29);
      expect(await sets.refreshForUnknownKid(URI, 'svc')).toBeUndefined();
      expect(await sets.refreshForUnknownKid(URI, 'svc')).toBeUndefined();
      expect(source.fetches).toHaveLength(1);
      expect(await counted(metrics.clientJwksFetches, { outcome: 'cooldown' })).toBe(2);
      clock.advance(1);
      source.serve(URI, { keys: [{ ...keys[0].publicJwk, kid: 'k1' }, { ...keys[1].publicJwk, kid: 'k2' }] });
      const refreshed = await sets.refreshForUnknownKid(URI, 'svc');
      expect(refreshed).toBeDefined();
      expect(await current()).toBe(refreshed);
      // The refetch started the cooldown again: a second unknown kid right after fetches nothing.
      expect(await sets.refreshForUnknownKid(URI, 'svc')).toBeUndefined();
      expect(source.fetches).toHaveLength(2);
    });
  });

  describe('coalescing', () => {
    it('concurrent requests for a set not yet fetched share one fetch', async () => {
      const release = source.hold(URI);
      const waiting = Promise.all(Array.from({ length: 10 }, () => current()));
      release();
      const verifiers = await waiting;
      expect(new Set(verifiers).size).toBe(1);
      expect(source.fetches).toHaveLength(1);
    });

    it('an unknown-kid refresh during a fetch waits for that fetch instead of starting one', async () => {
      await current();
      clock.advance(31);
      const release = source.hold(URI);
      const a = sets.refreshForUnknownKid(URI, 'svc');
      const b = sets.refreshForUnknownKid(URI, 'svc');
      const c = current();
      release();
      const [ra, rb, rc] = await Promise.all([a, b, c]);
      expect(ra).toBe(rb);
      expect(rc).toBe(ra);
      expect(source.fetches).toHaveLength(2);
    });
  });

  describe('failures', () => {
    it('nothing cached: the failure is thrown, and repeated within the cooldown without fetching', async () => {
      source.fail(URI, 'timeout');
      await expect(current()).rejects.toMatchObject({ failure: 'timeout' });
      clock.advance(29);
      await expect(current()).rejects.toBeInstanceOf(JwksFetchError);
      expect(source.fetches).toHaveLength(1);
      clock.advance(1);
      source.serve(URI, { keys: [keys[0].publicJwk] });
      await expect(current()).resolves.toEqual(expect.any(Function));
      expect(source.fetches).toHaveLength(2);
      expect(await counted(metrics.clientJwksFetches, { outcome: 'timeout' })).toBe(1);
    });

    it('an expired set keeps verifying for CLIENT_JWKS_STALE_GRACE_SECONDS (600 s) while refetches fail, one per cooldown', async () => {
      const first = await current();
      source.fail(URI, 'http_status');
      clock.advance(300);
      expect(await current()).toBe(first);
      expect(source.fetches).toHaveLength(2);
      clock.advance(10);
      expect(await current()).toBe(first);
      expect(source.fetches).toHaveLength(2);
      clock.advance(589);
      expect(await current()).toBe(first);
      expect(source.fetches).toHaveLength(3);
      clock.advance(1);
      await expect(current()).rejects.toMatchObject({ failure: 'http_status' });
    });

    it('a set that turns out to hold private keys drops the old one at once, and is logged once without the key', async () => {
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      try {
        await current();
        clock.advance(300);
        source.fail(URI, 'private_key');
        await expect(current()).rejects.toMatchObject({ failure: 'private_key' });
        clock.advance(30);
        await expect(current()).rejects.toMatchObject({ failure: 'private_key' });
        expect(source.fetches).toHaveLength(3);
        expect(warn).toHaveBeenCalledTimes(1);
        expect(String(warn.mock.calls[0][0])).toMatch(/jwks_uri of client svc \(https:\/\/svc.example.com\/jwks\) serves private key material/);
        expect(await counted(metrics.clientJwksFetches, { outcome: 'private_key' })).toBe(2);
      } finally {
        warn.mockRestore();
      }
    });
  });
});
