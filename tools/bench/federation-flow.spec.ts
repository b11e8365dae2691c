import { summarize } from './load';
import { classifyStep, FEDERATED_STEPS, LOCAL_STEPS, stepDurations, type FederatedStep, type LocalStep } from './federation-flow';
import { addedLatency, serverTimesTable, STEP_PAIRS } from './federation-report';
import { readOptions } from './options';
import { describeSeries, histogramDelta, histogramTotals, serverTimeRows } from './server-metrics';

const AS1 = 'http://127.0.0.1:4001';
const AS2 = 'http://127.0.0.1:4002';

describe('federation bench helpers (issue 10)', () => {
  it('names each request of a federated login by where it goes and what it carries (FED-5/10/12)', () => {
    const walk: [string, Record<string, unknown>][] = [
      [`${AS1}/authorize-challenge`, { client_id: 'app', response_type: 'code', code_challenge: 'x' }],
      [`${AS1}/authorize-challenge`, { bank: 'bank-b', auth_session: 's1' }],
      [`${AS2}/authorize-challenge`, { client_id: 'as1', request_uri: 'urn:ietf:params:oauth:request_uri:1' }],
      [`${AS2}/authorize-challenge`, { challenge_type: 'email_otp', email: 'a@b.example', auth_session: 's2' }],
      [`${AS2}/authorize-challenge`, { code: '123456', auth_session: 's2' }],
      [`${AS1}/federation/callback`, { authorization_code: 'c2', auth_session: 's1' }],
      [`${AS1}/token`, { grant_type: 'authorization_code', code: 'c1' }],
    ];
    expect(walk.map(([url, params]) => classifyStep(url, params, AS1, 'federated'))).toEqual([...FEDERATED_STEPS]);
  });

  it('names the same requests of the local login (routed here: e-mail and code at AS1)', () => {
    const walk: [string, Record<string, unknown>][] = [
      [`${AS1}/authorize-challenge`, { client_id: 'app' }],
      [`${AS1}/authorize-challenge`, { bank: 'here', auth_session: 's1' }],
      [`${AS1}/authorize-challenge`, { challenge_type: 'email_otp', email: 'a@b.example', auth_session: 's1' }],
      [`${AS1}/authorize-challenge`, { code: '123456', auth_session: 's1' }],
      [`${AS1}/token`, { grant_type: 'authorization_code', code: 'c1' }],
    ];
    expect(walk.map(([url, params]) => classifyStep(url, params, AS1, 'local'))).toEqual([...LOCAL_STEPS]);
  });

  it('a step lasts until the next one starts (the e-mail step until the code is in hand), repeats add up, the last one ends at the end', () => {
    const marks = [
      { step: 'information', at: 0 },
      { step: 'route_local', at: 10 },
      { step: 'email', at: 25 },
      { step: 'code', at: 60 },
      { step: 'code', at: 70 },
      { step: 'token', at: 90 },
    ];
    expect(stepDurations(marks, 100, LOCAL_STEPS)).toEqual({ information: 10, route_local: 15, email: 35, code: 30, token: 10 });
    expect(() => stepDurations(marks.slice(0, 3), 30, LOCAL_STEPS)).toThrow('steps never taken: code, token');
    expect(() => stepDurations([...marks, { step: 'callback', at: 95 }], 100, LOCAL_STEPS)).toThrow('unexpected step callback');
  });

  it('added latency: per step means side by side (a step only federation has counts whole), summing to the whole login’s added mean', () => {
    const stats = (values: number[]) => ({ completed: values.length, latency: summarize(values) });
    const fedSteps = Object.fromEntries(FEDERATED_STEPS.map((s, i) => [s, stats([10 + i, 20 + i])])) as Record<FederatedStep, ReturnType<typeof stats>>;
    const localSteps = Object.fromEntries(LOCAL_STEPS.map((s) => [s, stats([10, 20])])) as Record<LocalStep, ReturnType<typeof stats>>;
    const fedTotals = [0, 1].map((j) => FEDERATED_STEPS.reduce((a, _s, i) => a + (j === 0 ? 10 : 20) + i, 0));
    const localTotals = [50, 100];
    const a = addedLatency({ steps: fedSteps, latency: summarize(fedTotals), rps: 5 }, { steps: localSteps, latency: summarize(localTotals), rps: 20 });
    expect(a.rows).toHaveLength(STEP_PAIRS.length);
    const callback = a.rows.find((r) => r.label.includes('/federation/callback'))!;
    expect(callback).toMatchObject({ localMean: undefined, federatedMean: 20, addedMean: 20 });
    expect(a.rows[0]).toMatchObject({ localMean: 15, federatedMean: 15, addedMean: 0, localP50: 10, federatedP50: 10 });
    expect(a.rows.reduce((s, r) => s + r.addedMean, 0)).toBeCloseTo(a.whole.mean, 9);
    expect(a.throughputRatio).toBe(0.25);
  });

  it('reads histogram sums and counts from /metrics text and subtracts two readings', () => {
    const text = (n: number) =>
      [
        '# TYPE http_request_duration_seconds histogram',
        `http_request_duration_seconds_bucket{le="0.01",method="POST",route="/token",status="200"} ${n}`,
        `http_request_duration_seconds_sum{method="POST",route="/token",status="200"} ${n * 0.02}`,
        `http_request_duration_seconds_count{method="POST",route="/token",status="200"} ${n}`,
        'http_request_duration_seconds_sum{method="GET",route="/health/ready",status="200"} 0.5',
        'http_request_duration_seconds_count{method="GET",route="/health/ready",status="200"} 7',
        `fpa_federation_downstream_seconds_sum{downstream="http://127.0.0.1:4002",step="token"} ${n * 0.03}`,
        `fpa_federation_downstream_seconds_count{downstream="http://127.0.0.1:4002",step="token"} ${n}`,
      ].join('\n');
    const http = histogramDelta(histogramTotals(text(10), 'http_request_duration_seconds'), histogramTotals(text(30), 'http_request_duration_seconds'));
    expect([...http]).toEqual([['method="POST",route="/token",status="200"', { sum: expect.closeTo(0.4, 9), count: 20 }]]);
    const fed = histogramTotals(text(4), 'fpa_federation_downstream_seconds');
    const rows = serverTimeRows('as1', new Map([...fed].map(([k, v]) => [`fpa_federation_downstream_seconds ${k}`, v])), 2);
    expect(rows).toEqual([{ process: 'as1', what: 'call to the downstream: token', perLogin: 2, meanMs: expect.closeTo(30, 9) }]);
    expect(describeSeries('http_request_duration_seconds method="POST",route="/federation/callback",status="200"')).toBe('POST /federation/callback 200');
  });

  it('puts the servers’ local and federated rows side by side, a request only one variant made shown as –', () => {
    const table = serverTimesTable([{ process: 'as1', what: 'POST /token 200', perLogin: 1, meanMs: 4 }], [
      { process: 'as1', what: 'POST /token 200', perLogin: 1, meanMs: 5 },
      { process: 'as2', what: 'POST /token 400', perLogin: 1, meanMs: 2 },
    ]);
    expect(table).toContain('| as1 | `POST /token 200` | 1.00 | 4.00 | 1.00 | 5.00 |');
    expect(table).toContain('| as2 | `POST /token 400` | – | – | 1.00 | 2.00 |');
    expect(serverTimesTable([], [])).toEqual([]);
  });

  it('federation is a phase group of its own with its options', () => {
    expect(readOptions({ BENCH_ONLY: 'federation', BENCH_FEDERATION_ROUNDS: '200', BENCH_FEDERATION_CONCURRENCY: '8' })).toMatchObject({ phases: new Set(['federation']), federationRounds: 200, federationConcurrency: 8, writeDocs: false });
    expect(() => readOptions({ BENCH_FEDERATION_ROUNDS: '5' })).toThrow('BENCH_FEDERATION_ROUNDS');
  });
});
