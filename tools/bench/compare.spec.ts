import { COMPARE_DEFAULTS, CompareHelp, CompareOptionsError, nonDefaults, parseCompareOptions } from './compare-options';
import { COMPARE_END, COMPARE_START, machineWasBusy, median, mergeComparison, pacedRate, ratio, renderComparison, summarize, worstFailureRatio, type CompareReportInput, type PacedComparison, type ServerRound } from './compare-report';
import { expectTokenBody, isJwtDpopAccessToken } from './compare-flows';
import { ExpiringStore } from './compare-oidc-server';
import { MARKER } from './report';

/** Issue 13, goal 1: the pure parts of `npm run bench:compare`. */

const round = (over: Partial<ServerRound> = {}): ServerRound => ({
  rps: 800,
  p50: 30,
  p99: 80,
  completed: 6_000,
  non2xx: 0,
  errors: 0,
  seconds: 7.5,
  timeBound: false,
  serverCpuMs: 6_000 * 1.4,
  postgresCpuMs: 6_000 * 0.2,
  redisCpuMs: 6_000 * 0.1,
  peakRssBytes: 280 * 1024 * 1024,
  otherCores: 0.1,
  ...over,
});

describe('bench:compare options', () => {
  it('defaults to the issue 13 run: 6,000 requests, 32 connections, 3 rounds, both comparisons, docs written', () => {
    const o = parseCompareOptions([], {});
    expect([o.n, o.connections, o.rounds, o.devices]).toEqual([6_000, 32, 3, COMPARE_DEFAULTS.devices]);
    expect(o.comparisons).toEqual(['client_credentials', 'refresh']);
    expect(o.writeDocs).toBe(true);
    expect(nonDefaults(o)).toEqual([]);
  });

  it('takes arguments (both spellings) over environment variables', () => {
    const o = parseCompareOptions(['--n', '500', '--rounds=2'], { BENCH_COMPARE_N: '900', BENCH_COMPARE_CONNECTIONS: '8' });
    expect([o.n, o.rounds, o.connections]).toEqual([500, 2, 8]);
    expect(nonDefaults(o)).toEqual(['--n 500', '--connections 8', '--rounds 2']);
  });

  it('writes the docs for a partial run only when asked', () => {
    const only = parseCompareOptions(['--only', 'refresh'], {});
    expect([only.comparisons, only.writeDocs]).toEqual([['refresh'], false]);
    expect(parseCompareOptions(['--only', 'refresh', '--write-docs'], {}).writeDocs).toBe(true);
    expect(parseCompareOptions(['--no-write-docs'], {}).writeDocs).toBe(false);
    expect(parseCompareOptions([], { BENCH_COMPARE_WRITE_DOCS: '0' }).writeDocs).toBe(false);
    expect(nonDefaults(only)).toEqual(['--only refresh']);
  });

  it('refuses what it does not understand, naming each problem', () => {
    const bad = (argv: string[], env: NodeJS.ProcessEnv = {}): string => {
      try {
        parseCompareOptions(argv, env);
      } catch (e) {
        expect(e).toBeInstanceOf(CompareOptionsError);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(bad(['--n', 'ten'])).toContain('--n must be an integer');
    expect(bad(['--n', '50'])).toContain('between 100 and');
    expect(bad([], { BENCH_COMPARE_ROUNDS: '0' })).toContain('BENCH_COMPARE_ROUNDS must be an integer');
    expect(bad(['--rounds'])).toContain('--rounds needs a value');
    expect(bad(['--speed', '3'])).toContain('unknown option --speed');
    expect(bad(['stray'])).toContain('unexpected argument "stray"');
    expect(bad(['--only', 'password'])).toContain('--only takes client_credentials or refresh');
    expect(bad(['--write-docs', '--no-write-docs'])).toContain('exclude each other');
    expect(bad(['--n', '100', '--connections', '200'])).toContain('must not exceed the requests per round');
  });

  it('has a fixed-rate round of 20 s at 80 % by default (--paced-percent another share); --paced-seconds 0 leaves it out, and it must fit the nonce window', () => {
    expect([parseCompareOptions([], {}).pacedSeconds, parseCompareOptions([], {}).pacedPercent]).toEqual([20, 80]);
    const lower = parseCompareOptions(['--paced-percent', '50'], {});
    expect([lower.pacedPercent, nonDefaults(lower)]).toEqual([50, ['--paced-percent 50']]);
    expect(parseCompareOptions([], { BENCH_COMPARE_PACED_PERCENT: '65' }).pacedPercent).toBe(65);
    expect(() => parseCompareOptions(['--paced-percent', '5'], {})).toThrow('--paced-percent must be an integer between 10 and 150');
    const none = parseCompareOptions(['--paced-seconds', '0'], {});
    expect(none.pacedSeconds).toBe(0);
    expect(nonDefaults(none)).toEqual(['--paced-seconds 0']);
    expect(parseCompareOptions([], { BENCH_COMPARE_PACED_SECONDS: '30' }).pacedSeconds).toBe(30);
    expect(() => parseCompareOptions(['--paced-seconds', '41'], {})).toThrow('--paced-seconds must be an integer between 0 and 40');
  });

  it('answers --help with the usage', () => {
    expect(() => parseCompareOptions(['--help'])).toThrow(CompareHelp);
  });
});

describe('bench:compare ratios and medians', () => {
  it('takes the median of an odd and an even count, ignoring missing values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([undefined, 5, NaN])).toBe(5);
    expect(Number.isNaN(median([]))).toBe(true);
  });

  it('has no ratio without both values or with a zero divisor', () => {
    expect(ratio(3, 2)).toBe(1.5);
    expect(ratio(3, 0)).toBeUndefined();
    expect(ratio(undefined, 2)).toBeUndefined();
  });

  it('takes the median of the per-round ratios, not the ratio of the medians', () => {
    // Ratios 1.0, 0.5, 2.0 → median 1.0; medians 500 vs 400 would give 1.25.
    const pairs = [
      { ours: round({ rps: 400 }), theirs: round({ rps: 400 }) },
      { ours: round({ rps: 500 }), theirs: round({ rps: 1_000 }) },
      { ours: round({ rps: 600 }), theirs: round({ rps: 300 }) },
    ];
    const rps = summarize(pairs).find((r) => r.metric === 'requests/s')!;
    expect([rps.ours, rps.theirs, rps.medianRatio]).toEqual([500, 400, 1]);
  });

  it('counts the stores into ours but not theirs, per completed request', () => {
    const theirs = round({ postgresCpuMs: undefined, redisCpuMs: undefined, serverCpuMs: 6_000 * 1.35 });
    const rows = summarize([{ ours: round(), theirs }]);
    const get = (m: string) => rows.find((r) => r.metric === m)!;
    expect(get('CPU / request, server process (ms)').ours).toBeCloseTo(1.4);
    expect(get('CPU / request, server + its stores (ms)').ours).toBeCloseTo(1.7);
    expect(get('CPU / request, server + its stores (ms)').theirs).toBeCloseTo(1.35);
    expect(get('CPU / request, server + its stores (ms)').medianRatio).toBeCloseTo(1.7 / 1.35);
    expect(Number.isNaN(get('CPU / request, PostgreSQL backends (ms)').medianRatio)).toBe(true);
  });

  it('finds the worst failure ratio over both servers and every round, the fixed-rate one included', () => {
    expect(worstFailureRatio([{ ours: round(), theirs: round({ non2xx: 30, completed: 6_000 }) }])).toBeCloseTo(0.005);
    expect(worstFailureRatio([{ ours: round({ completed: 0 }), theirs: round() }])).toBe(1);
    const paced: PacedComparison = { offeredRate: 400, percent: 80, seconds: 20, ours: round({ errors: 80, completed: 7_920 }), theirs: round() };
    expect(worstFailureRatio([{ ours: round(), theirs: round() }], paced)).toBeCloseTo(0.01);
  });

  it('offers the fixed-rate round 80 % of our median closed-loop throughput, whatever theirs was', () => {
    const pairs = [500, 700, 600].map((rps) => ({ ours: round({ rps }), theirs: round({ rps: 2_000 }) }));
    expect(pacedRate(pairs, 80)).toBe(480);
    expect(pacedRate([{ ours: round({ rps: 0.4 }), theirs: round() }], 80)).toBe(1);
    expect(pacedRate([], 80)).toBe(1);
  });
});

describe('bench:compare report', () => {
  const input = (over: Partial<CompareReportInput> = {}): CompareReportInput => ({
    date: new Date('2026-12-01T18:00:00Z'),
    commit: 'abc1234',
    machine: { nproc: 2, cpuModel: 'AMD EPYC', memTotalBytes: 8 * 1024 ** 3, node: 'v20.20.2', os: 'Linux 6', loadAverage: [0.1, 0.1, 0.1] },
    loadStart: [0.2, 0.3, 0.4],
    loadEnd: [0.3, 0.3, 0.4],
    comparisons: [
      {
        id: 'client_credentials',
        title: 'Token endpoint, no refresh tokens',
        oursDoes: 'the device grant',
        theirsDoes: 'client_credentials',
        pairs: [{ ours: round({ rps: 816 }), theirs: round({ rps: 932, postgresCpuMs: undefined, redisCpuMs: undefined }) }],
      },
    ],
    nonDefaults: [],
    settings: ['Rounds: 3.'],
    ...over,
  });

  it('renders the section: heading, both sides, the median ratio, every round, machine and load averages', () => {
    const text = renderComparison(input());
    expect(text.startsWith('## Comparison with node-oidc-provider')).toBe(true);
    expect(text).toContain('| requests/s | 816 | 932 | 0.88 |');
    expect(text).toContain('| 1 A | first-party-auth | 6,000 | 816 |');
    expect(text).toContain('| 1 B | node-oidc-provider | 6,000 | 932 |');
    expect(text).toContain('nproc 2');
    expect(text).toContain('at the start: 0.20, 0.30, 0.40; at the end: 0.30, 0.30, 0.40');
    expect(text).toContain('- Rounds: 3.');
    expect(text).toContain('at most 0.00 % in any round');
    expect(text).not.toContain('Noisy figures');
    expect(text).not.toContain('Not the default run');
  });

  it('renders the fixed-rate round (offered and achieved rate, p50, p99, non-2xx of both) and whether our p99 met the goal', () => {
    const paced = (p99: number): PacedComparison => ({ offeredRate: 653, percent: 80, seconds: 20, ours: round({ rps: 651, p50: 9.5, p99, completed: 13_020 }), theirs: round({ rps: 652, p50: 7.25, p99: 31, non2xx: 2, completed: 13_040 }) });
    const withPaced = (p: PacedComparison): CompareReportInput => {
      const i = input();
      return { ...i, comparisons: [{ ...i.comparisons[0], paced: p }] };
    };
    const text = renderComparison(withPaced(paced(42)));
    expect(text).toContain('#### Fixed rate: 653 req/s (80 % of our median throughput above) for 20 s, both servers');
    expect(text).toContain('| first-party-auth | 653 | 651 | 9.50 | 42.0 |');
    expect(text).toContain('| node-oidc-provider | 653 | 652 | 7.25 | 31.0 |');
    expect(text).toMatch(/\| node-oidc-provider \|.*\| 2 \| 0\.10 \|$/m);
    expect(text).toContain('(p99 ≤ 50 ms at 80 % of our saturation rate): met in this run (p99 42.0 ms)');
    expect(renderComparison(withPaced(paced(75)))).toContain('not met in this run (p99 75.0 ms)');
    expect(renderComparison(input())).not.toContain('Fixed rate');
  });

  it('says so in the header when the machine was busy or the run was not the default one', () => {
    const busy = { loadStart: [0.2, 0, 0], loadEnd: [3.5, 0, 0] };
    expect(machineWasBusy({ ...input(), ...busy })).toBe(true);
    const text = renderComparison(input({ ...busy, nonDefaults: ['--n 500'] }));
    expect(text).toContain('**Noisy figures.**');
    expect(text).toContain('> Not the default run: --n 500.');
  });

  it('replaces only its own section, between its markers', () => {
    const doc = `# Benchmarks\n\nIntro.\n\n${COMPARE_START}\n\n## Comparison with node-oidc-provider\n\nold\n\n${COMPARE_END}\n\nHand-written.\n\n${MARKER}\n\n## Results\n`;
    const merged = mergeComparison(doc, '## Comparison with node-oidc-provider\n\nnew\n');
    expect(merged).toContain('new');
    expect(merged).not.toContain('old');
    expect(merged.replace(/<!-- bench:compare -->[\s\S]*<!-- \/bench:compare -->/, '')).toBe(doc.replace(/<!-- bench:compare -->[\s\S]*<!-- \/bench:compare -->/, ''));
    expect(merged.split(COMPARE_START)).toHaveLength(2);
  });

  it('goes above npm run bench\'s marker the first time, so that tool keeps it', () => {
    const doc = `# Benchmarks\n\nIntro.\n\n${MARKER}\n\n## Results\n`;
    const merged = mergeComparison(doc, 'S');
    expect(merged.indexOf(COMPARE_END)).toBeLessThan(merged.indexOf(MARKER));
    expect(merged.startsWith('# Benchmarks\n\nIntro.\n\n')).toBe(true);
    expect(merged.endsWith(`${MARKER}\n\n## Results\n`)).toBe(true);
    expect(mergeComparison('# Notes\n', 'S')).toBe(`# Notes\n\n${COMPARE_START}\n\nS\n\n${COMPARE_END}\n`);
    expect(mergeComparison(undefined, 'S')).toContain(COMPARE_START);
  });

  it('refuses to guess around a broken section', () => {
    expect(() => mergeComparison(`x ${COMPARE_START} y`, 'S')).toThrow('broken comparison section');
  });
});

describe('bench:compare checks and storage', () => {
  const jwt = (header: object, payload: object): string => `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.sig`;
  const at = jwt({ alg: 'ES256', typ: 'at+jwt' }, { cnf: { jkt: 'x' } });

  it('accepts only a DPoP-bound at+jwt, with a refresh token exactly when one is expected', () => {
    expect(isJwtDpopAccessToken({ access_token: at, token_type: 'DPoP' })).toBe(true);
    expect(isJwtDpopAccessToken({ access_token: at, token_type: 'Bearer' })).toBe(false);
    expect(isJwtDpopAccessToken({ access_token: 'opaque-value', token_type: 'DPoP' })).toBe(false);
    expect(isJwtDpopAccessToken({ access_token: jwt({ typ: 'JWT' }, { cnf: { jkt: 'x' } }), token_type: 'DPoP' })).toBe(false);
    expect(isJwtDpopAccessToken({ access_token: jwt({ typ: 'at+jwt' }, {}), token_type: 'DPoP' })).toBe(false);
    expect(expectTokenBody(false)({ access_token: at, token_type: 'DPoP' })).toBe(true);
    expect(expectTokenBody(false)({ access_token: at, token_type: 'DPoP', refresh_token: 'r' })).toBe(false);
    expect(expectTokenBody(true)({ access_token: at, token_type: 'DPoP', refresh_token: 'r' })).toBe(true);
    expect(expectTokenBody(true)({ access_token: at, token_type: 'DPoP' })).toBe(false);
  });

  it('keeps node-oidc-provider\'s entries until they expire, however many there are', () => {
    const store = new ExpiringStore();
    for (let i = 0; i < 5_000; i++) store.set(`k${i}`, i, { maxAge: 60_000 });
    store.set('gone', 1, { maxAge: -1 });
    store.set('forever', 2);
    expect(store.get('k0')).toBe(0);
    expect(store.get('gone')).toBeUndefined();
    expect(store.get('forever')).toBe(2);
    store.sweep(Date.now() + 120_000);
    expect([store.get('k1'), store.get('forever'), store.size]).toEqual([undefined, 2, 1]);
    store.delete('forever');
    expect(store.get('forever')).toBeUndefined();
  });
});
