import { TestClock } from './clock';

describe('TestClock', () => {
  it('follows real time until moved, then keeps running from where it was put', () => {
    const clock = new TestClock();
    expect(Math.abs(clock.nowMs() - Date.now())).toBeLessThan(50);
    clock.advance(301_000);
    expect(clock.nowMs() - Date.now()).toBeGreaterThanOrEqual(300_950);
    expect(clock.nowSeconds()).toBe(Math.floor(clock.nowMs() / 1000));
    clock.set(1_800_000_000_000);
    expect(Math.abs(clock.nowMs() - 1_800_000_000_000)).toBeLessThan(50);
    clock.reset();
    expect(Math.abs(clock.nowMs() - Date.now())).toBeLessThan(50);
  });

  it('frozen, it moves only when told', async () => {
    const clock = new TestClock({ nowMs: 1_700_000_000_500, frozen: true });
    await new Promise((r) => setTimeout(r, 20));
    expect(clock.nowMs()).toBe(1_700_000_000_500);
    expect(clock.nowSeconds()).toBe(1_700_000_000);
    clock.advance(1_500);
    expect(clock.nowMs()).toBe(1_700_000_002_000);
    clock.set(5);
    expect(clock.nowMs()).toBe(5);
  });

  it('refuses to advance backwards or by a non-number', () => {
    const clock = new TestClock();
    expect(() => clock.advance(-1)).toThrow(RangeError);
    expect(() => clock.advance(Number.NaN)).toThrow(RangeError);
    expect(() => clock.set(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});
