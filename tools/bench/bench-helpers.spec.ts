import { RequestFeed, summarize } from './load';
import { failureRatio, MARKER, mergeDocs } from './report';
import type { PhaseResult } from './load';

describe('bench helpers', () => {
  it('computes nearest-rank percentiles', () => {
    const s = summarize(Array.from({ length: 100 }, (_, i) => i + 1));
    expect([s.p50, s.p90, s.p99, s.max, s.mean]).toEqual([50, 90, 99, 100, 50.5]);
    expect(summarize([7]).p99).toBe(7);
    expect(Number.isNaN(summarize([]).p50)).toBe(true);
  });

  it('hands out every prebuilt request once, then counts what it had to repeat', () => {
    const feed = new RequestFeed([
      { headers: {}, body: 'a' },
      { headers: {}, body: 'b' },
    ]);
    expect([feed.take().body, feed.take().body, feed.take().body]).toEqual(['a', 'b', 'b']);
    expect(feed.used).toBe(2);
    expect(feed.exhausted).toBe(1);
    expect(feed.largestBurst10ms()).toBeGreaterThanOrEqual(1);
  });

  it('keeps the hand-written text above the marker and replaces what follows', () => {
    const created = mergeDocs(undefined, '## Results\n\nfirst\n');
    expect(created).toContain('npm run bench');
    expect(created.indexOf(MARKER)).toBeLessThan(created.indexOf('first'));
    const replaced = mergeDocs(created.replace('# Benchmarks', '# Benchmarks\n\nA note by hand.'), '## Results\n\nsecond\n');
    expect(replaced).toContain('A note by hand.');
    expect(replaced).toContain('second');
    expect(replaced).not.toContain('first');
    expect(replaced.split(MARKER)).toHaveLength(2);
    expect(mergeDocs('# Old notes\n', 'gen')).toBe(`# Old notes\n\n${MARKER}\n\ngen\n`);
  });

  it('counts non-2xx responses and connection errors as failures', () => {
    const phase = { completed: 990, errors: 10, non2xx: 5 } as PhaseResult;
    expect(failureRatio(phase)).toBeCloseTo(15 / 1000);
    expect(failureRatio({ completed: 0, errors: 0, non2xx: 0 } as PhaseResult)).toBe(1);
  });
});
