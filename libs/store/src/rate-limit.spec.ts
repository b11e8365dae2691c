import { MemoryStore } from './memory.store';
import { ExceededLimits, rateLimitHit } from './rate-limit';

/** ExceededLimits: an address the store refused is refused locally until its window resets — never longer. */
describe('ExceededLimits', () => {
  let now = 1_000_000;
  const clock = (): number => now;
  const hit = rateLimitHit('challenge-ip', '203.0.113.9', 2, 60);

  it('remembers a refusal one second short of the store’s rounded reset, then asks the store again', () => {
    const limits = new ExceededLimits(clock);
    expect(limits.refusal(hit)).toBeUndefined();
    limits.note(hit, 60);
    expect(limits.refusal(hit)).toMatchObject({ code: 'slow_down', reason: 'rate_limited:challenge-ip', headers: { 'Retry-After': '60' } });
    now += 58_500;
    expect(limits.refusal(hit)).toMatchObject({ headers: { 'Retry-After': '2' } });
    now += 500;
    expect(limits.refusal(hit)).toBeUndefined();
    // Another subject was never refused.
    expect(new ExceededLimits(clock).refusal(rateLimitHit('challenge-ip', '198.51.100.1', 2, 60))).toBeUndefined();
  });

  it('a reset of one second or less is not remembered (the store may admit the next request)', () => {
    const limits = new ExceededLimits(clock);
    limits.note(hit, 1);
    expect(limits.refusal(hit)).toBeUndefined();
  });

  it('is bounded: a full table is emptied', () => {
    const limits = new ExceededLimits(clock, 2);
    const a = rateLimitHit('challenge-ip', 'a', 1, 60);
    const b = rateLimitHit('challenge-ip', 'b', 1, 60);
    limits.note(a, 60);
    limits.note(b, 60);
    limits.note(hit, 60);
    expect([limits.refusal(a), limits.refusal(b), limits.refusal(hit)].map((r) => r !== undefined)).toEqual([false, false, true]);
  });

  it('enforce: counts in the store until the limit, then refuses without asking the store', async () => {
    const store = new MemoryStore(clock, { genesis: true });
    try {
      const limits = new ExceededLimits(clock);
      const hits = jest.spyOn(store, 'hit');
      await limits.enforce(store, hit);
      await limits.enforce(store, hit);
      await expect(limits.enforce(store, hit)).rejects.toMatchObject({ code: 'slow_down' });
      expect(hits).toHaveBeenCalledTimes(3);
      await expect(limits.enforce(store, hit)).rejects.toMatchObject({ code: 'slow_down' });
      expect(hits).toHaveBeenCalledTimes(3);
      // The window resets: the store counts again.
      now += 60_000;
      await limits.enforce(store, hit);
      expect(hits).toHaveBeenCalledTimes(4);
    } finally {
      await store.close();
    }
  });
});
