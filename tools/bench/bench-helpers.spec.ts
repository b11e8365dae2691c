import { RequestFeed, summarize } from './load';
import { OptionsError, readOptions } from './options';
import { challengeSection, failureRatio, MARKER, mergeDocs, type ChallengePhaseReport } from './report';
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

  it('reads the phase selection and decides whether the docs are written', () => {
    const all = readOptions({});
    expect([...all.phases]).toEqual(['registration', 'token', 'challenge', 'par', 'browser', 'federation', 'wallet']);
    expect(all.parRequests).toBe(20_000);
    expect(all.writeDocs).toBe(true);
    expect([all.challengeRounds, all.challengeConcurrency, all.challengeSigning]).toEqual([3000, 32, 'presigned']);
    const only = readOptions({ BENCH_ONLY: 'challenge', BENCH_CHALLENGE_SIGNING: 'live' });
    expect([...only.phases]).toEqual(['challenge']);
    expect(only.writeDocs).toBe(false);
    expect(only.challengeSigning).toBe('live');
    expect(readOptions({ BENCH_ONLY: 'challenge', BENCH_WRITE_DOCS: '1' }).writeDocs).toBe(true);
    expect([...readOptions({ BENCH_SKIP: 'registration, challenge' }).phases]).toEqual(['token', 'par', 'browser', 'federation', 'wallet']);
    expect([...readOptions({ BENCH_ONLY: 'par' }).phases]).toEqual(['par']);
    expect(() => readOptions({ BENCH_PAR_REQUESTS: '10' })).toThrow(/BENCH_PAR_REQUESTS/);
    expect(() => readOptions({ BENCH_ONLY: 'chalenge' })).toThrow(OptionsError);
    expect(() => readOptions({ BENCH_ONLY: 'token', BENCH_SKIP: 'token' })).toThrow(/no phase/);
    expect(() => readOptions({ BENCH_CHALLENGE_SIGNING: 'later' })).toThrow(/presigned or live/);
  });

  it('reads the browser phase options', () => {
    const all = readOptions({});
    expect([all.browserRounds, all.browserConcurrency]).toEqual([2000, 32]);
    const only = readOptions({ BENCH_ONLY: 'browser', BENCH_BROWSER_ROUNDS: '500', BENCH_BROWSER_CONCURRENCY: ' 8 ' });
    expect([...only.phases]).toEqual(['browser']);
    expect([only.browserRounds, only.browserConcurrency, only.writeDocs]).toEqual([500, 8, false]);
    expect([...readOptions({ BENCH_SKIP: 'browser' }).phases]).toEqual(['registration', 'token', 'challenge', 'par', 'federation', 'wallet']);
    expect(() => readOptions({ BENCH_BROWSER_ROUNDS: '5' })).toThrow(/BENCH_BROWSER_ROUNDS must be an integer between 10 and 1000000/);
    expect(() => readOptions({ BENCH_BROWSER_CONCURRENCY: '0' })).toThrow(/BENCH_BROWSER_CONCURRENCY/);
    expect(() => readOptions({ BENCH_BROWSER_ROUNDS: '2k' })).toThrow(OptionsError);
  });

  it('renders the challenge breakdown per step and per process', () => {
    const lat = (p50: number) => ({ p50, p90: p50 * 2, p99: p50 * 3, max: p50 * 4, mean: p50 });
    const c = {
      title: 'Challenge round trip',
      connections: 32,
      completed: 990,
      roundsStarted: 1000,
      seconds: 2,
      rps: 495,
      latency: lat(20),
      timeBound: false,
      steps: { begin: { completed: 995, latency: lat(8) }, answer: { completed: 990, latency: lat(9) }, token: { completed: 990, latency: lat(3) } },
      processes: [{ name: 'challenge', cpuMs: 1500, peakRssBytes: 200 * 1024 * 1024 }],
      storeUsage: [{ name: 'Redis server (the whole process)', cpuMs: 100, peakRssBytes: undefined }],
      clientCpuMs: 400,
      emailsReceived: 1000,
      nonceRetries: 0,
      clientLoopDelayP99Ms: 3,
      unexpected: new Map([['answer 400', 10]]),
      unexpectedSamples: new Map([['answer 400', ['{"error":"invalid_request"}']]]),
    } as unknown as ChallengePhaseReport;
    const text = challengeSection(c).join('\n');
    expect(text).toContain('| challenge | 0.75 | 1.52 | 200 |');
    expect(text).toContain('| Redis server (the whole process) | 0.05 | 0.10 | – |');
    expect(text).toContain('1,000 round trips started, 990 completed, 10 failed (1.00 %)');
    expect(text).toContain('- answer 400: 10');
  });
});
