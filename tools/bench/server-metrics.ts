/**
 * Where a round trip's time goes inside the servers: the Prometheus histograms an app process
 * publishes at /metrics (`http_request_duration_seconds` by method, route and status;
 * `fpa_federation_downstream_seconds` by step), read before and after a phase and subtracted.
 */

export interface HistogramTotals {
  readonly sum: number;
  readonly count: number;
}

/** The histograms a federation phase reads. */
export const SERVER_HISTOGRAMS = ['http_request_duration_seconds', 'fpa_federation_downstream_seconds'] as const;

/**
 * `<name>_sum{labels} v` and `<name>_count{labels} v` of one histogram in the Prometheus text format
 * (pure), by label set as written (`method="POST",route="/token",status="200"`).
 */
export function histogramTotals(text: string, name: string): Map<string, HistogramTotals> {
  const out = new Map<string, { sum: number; count: number }>();
  const re = new RegExp(`^${name}_(sum|count)(?:\\{([^}]*)\\})? ([0-9.eE+-]+|NaN)$`, 'gm');
  for (const m of text.matchAll(re)) {
    const labels = m[2] ?? '';
    const entry = out.get(labels) ?? { sum: 0, count: 0 };
    entry[m[1] as 'sum' | 'count'] = Number(m[3]);
    out.set(labels, entry);
  }
  return out;
}

/** What was added between two readings (pure); label sets that did not move are left out. */
export function histogramDelta(before: ReadonlyMap<string, HistogramTotals>, after: ReadonlyMap<string, HistogramTotals>): Map<string, HistogramTotals> {
  const out = new Map<string, HistogramTotals>();
  for (const [labels, a] of after) {
    const b = before.get(labels) ?? { sum: 0, count: 0 };
    if (a.count > b.count) out.set(labels, { sum: a.sum - b.sum, count: a.count - b.count });
  }
  return out;
}

/** One process's histograms, `histogram labels` → totals; an unreachable /metrics reads as nothing. */
export async function readServerHistograms(url: string): Promise<Map<string, HistogramTotals>> {
  let text = '';
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) });
    text = res.ok ? await res.text() : '';
  } catch {
    text = '';
  }
  const out = new Map<string, HistogramTotals>();
  for (const name of SERVER_HISTOGRAMS) for (const [labels, t] of histogramTotals(text, name)) out.set(`${name} ${labels}`, t);
  return out;
}

/** A server-side row of a phase: which process, what (histogram and labels), how many per login and their mean time. */
export interface ServerTimeRow {
  readonly process: string;
  readonly what: string;
  readonly perLogin: number;
  readonly meanMs: number;
}

/** The rows of one phase (pure): every moved label set, counted per completed login, the mean in ms. */
export function serverTimeRows(process: string, delta: ReadonlyMap<string, HistogramTotals>, completed: number): ServerTimeRow[] {
  return [...delta].map(([what, t]) => ({ process, what: describeSeries(what), perLogin: completed > 0 ? t.count / completed : NaN, meanMs: (t.sum / t.count) * 1000 }));
}

/** `http_request_duration_seconds method="POST",route="/token",status="200"` → `POST /token 200`; a federation step → `downstream <step>`. */
export function describeSeries(key: string): string {
  const [name, labels = ''] = key.split(' ', 2);
  const l = Object.fromEntries([...labels.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
  if (name === 'http_request_duration_seconds') return `${l.method ?? '?'} ${l.route ?? '?'} ${l.status ?? '?'}`;
  if (name === 'fpa_federation_downstream_seconds') return `call to the downstream: ${l.step ?? '?'}`;
  return key;
}
