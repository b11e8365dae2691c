import type { StepStats } from './closed-loop';
import type { FederatedStep, FederationRunResult, LocalStep } from './federation-flow';
import type { ServerTimeRow } from './server-metrics';
import { int, ms, roundTripSection, type RoundTripReport, type StepRow } from './round-trip-report';

/** The federation phases (issue 10): each variant's step table, and what federation adds over the local login. */

/** Each process's requests and downstream calls during the phase (its /metrics histograms). */
interface ServerTimes {
  readonly serverTimes: readonly ServerTimeRow[];
}
export type FederatedPhaseReport = RoundTripReport<FederatedStep> & FederationRunResult<FederatedStep> & ServerTimes;
export type LocalPhaseReport = RoundTripReport<LocalStep> & FederationRunResult<LocalStep> & ServerTimes;

/** A step of the federated login beside its counterpart in the local one (none: a step only federation has). */
export const STEP_PAIRS: readonly (readonly [label: string, federated: FederatedStep, local: LocalStep | undefined])[] = [
  ['first request → 400 `insufficient_information` (AS1)', 'information', 'information'],
  ['routing answer → 400 `federate` (AS1, incl. its metadata look-up and PAR at AS2) / → 403 `method_required` (local)', 'federate', 'route_local'],
  ['AS2 first request (client_id + request_uri) → 403 `method_required`', 'downstream_begin', undefined],
  ['e-mail → 403 `code_sent`, until the code is in hand (AS2 / AS1)', 'downstream_email', 'email'],
  ['code → 200 `authorization_code` (AS2 / AS1)', 'downstream_code', 'code'],
  ['AS2’s code → `POST /federation/callback` (AS1, incl. its token request at AS2, the ID token check, the identity link) → 200 AS1’s code', 'callback', undefined],
  ['code exchange — `POST /token` (AS1)', 'token', 'token'],
];

export interface AddedRow {
  readonly label: string;
  readonly localMean: number | undefined;
  readonly federatedMean: number;
  /** Mean federated − mean local (the whole federated mean when the local login has no such step). */
  readonly addedMean: number;
  readonly localP50: number | undefined;
  readonly federatedP50: number;
}

export interface AddedLatency {
  readonly rows: readonly AddedRow[];
  readonly whole: { readonly p50: number; readonly p90: number; readonly p99: number; readonly mean: number };
  /** Federated logins/s over local logins/s at the same concurrency. */
  readonly throughputRatio: number;
}

type Steps<S extends string> = Readonly<Record<S, StepStats>>;
interface Side<S extends string> {
  readonly steps: Steps<S>;
  readonly latency: StepStats['latency'];
  readonly rps: number;
}

/**
 * What federation adds (pure): per step, the means side by side (means add up: the rows' added
 * means sum to the whole round trip's added mean; percentiles do not), and the whole round trip's
 * percentiles and throughput.
 */
export function addedLatency(federated: Side<FederatedStep>, local: Side<LocalStep>): AddedLatency {
  const rows = STEP_PAIRS.map(([label, f, l]): AddedRow => {
    const fed = federated.steps[f].latency;
    const loc = l === undefined ? undefined : local.steps[l].latency;
    return { label, localMean: loc?.mean, federatedMean: fed.mean, addedMean: fed.mean - (loc?.mean ?? 0), localP50: loc?.p50, federatedP50: fed.p50 };
  });
  const d = (k: 'p50' | 'p90' | 'p99' | 'mean'): number => federated.latency[k] - local.latency[k];
  return { rows, whole: { p50: d('p50'), p90: d('p90'), p99: d('p99'), mean: d('mean') }, throughputRatio: local.rps > 0 ? federated.rps / local.rps : NaN };
}

const cpuPerLogin = (r: RoundTripReport): number | undefined => {
  const all = [...r.processes, ...(r.storeUsage ?? [])];
  return r.completed > 0 && all.every((u) => u.cpuMs !== undefined) ? all.reduce((a, u) => a + u.cpuMs!, 0) / r.completed : undefined;
};

export function federationSection(federated: FederatedPhaseReport, local: LocalPhaseReport): string[] {
  const out: string[] = ['### Federated login (issue 10)', ''];
  const fedRows: StepRow[] = STEP_PAIRS.map(([label, f]) => [label, f.startsWith('downstream') ? 'as2' : 'as1', federated.steps[f]]);
  out.push(...roundTripSection('#### Federated: AS1 → AS2 (e-mail OTP at AS2) → AS1', federated, fedRows, 'as1 + as2', `${int(federated.nonceRetries)} requests were repeated after \`use_dpop_nonce\`; `));
  const localRows: StepRow[] = STEP_PAIRS.filter((p) => p[2] !== undefined).map(([label, , l]) => [label, 'as1', local.steps[l!]]);
  out.push(...roundTripSection('#### Local: the same client flow routed `local` (e-mail OTP at AS1)', local, localRows, 'as1', `${int(local.nonceRetries)} requests were repeated after \`use_dpop_nonce\`; `));

  const a = addedLatency(federated, local);
  out.push('#### What federation adds', '');
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  out.push(line(['Step', 'Local mean (ms)', 'Federated mean (ms)', 'Added mean (ms)', 'Local p50 (ms)', 'Federated p50 (ms)']));
  out.push(line(['---', '---:', '---:', '---:', '---:', '---:']));
  for (const r of a.rows) out.push(line([r.label, r.localMean === undefined ? '–' : ms(r.localMean), ms(r.federatedMean), `${r.addedMean >= 0 ? '+' : ''}${ms(r.addedMean)}`, r.localP50 === undefined ? '–' : ms(r.localP50), ms(r.federatedP50)]));
  out.push(line(['**whole login**', ms(local.latency.mean), ms(federated.latency.mean), `**${a.whole.mean >= 0 ? '+' : ''}${ms(a.whole.mean)}**`, ms(local.latency.p50), ms(federated.latency.p50)]));
  out.push('');
  const [cpuF, cpuL] = [cpuPerLogin(federated), cpuPerLogin(local)];
  out.push(
    `Same run, same processes, ${federated.connections} concurrent apps each: **${int(federated.rps)} federated logins/s** against ${int(local.rps)} local logins/s (${(a.throughputRatio * 100).toFixed(0)} %); federation adds **${ms(a.whole.p50)} ms at p50** (${ms(local.latency.p50)} → ${ms(federated.latency.p50)} ms) and ${ms(a.whole.p99)} ms at p99 (${ms(local.latency.p99)} → ${ms(federated.latency.p99)} ms).${cpuF !== undefined && cpuL !== undefined ? ` CPU per login, both suites, their PostgreSQL backends and Redis together: ${ms(cpuL)} ms local, ${ms(cpuF)} ms federated (×${(cpuF / cpuL).toFixed(1)}).` : ''}`,
    '',
  );
  out.push(...serverTimesTable(local.serverTimes, federated.serverTimes));
  return out;
}

/** Local and federated side by side, per process and request (or downstream call): how many per login, their mean server time. */
export function serverTimesTable(local: readonly ServerTimeRow[], federated: readonly ServerTimeRow[]): string[] {
  const keys: string[] = [];
  const index = (rows: readonly ServerTimeRow[]): Map<string, ServerTimeRow> => {
    const m = new Map<string, ServerTimeRow>();
    for (const r of rows) {
      const k = `${r.process}\u0000${r.what}`;
      if (!keys.includes(k)) keys.push(k);
      m.set(k, r);
    }
    return m;
  };
  const [l, f] = [index(local), index(federated)];
  if (keys.length === 0) return [];
  keys.sort((a, b) => a.localeCompare(b));
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  const cells = (r: ServerTimeRow | undefined): [string, string] => (r ? [r.perLogin.toFixed(2), ms(r.meanMs)] : ['–', '–']);
  return [
    'Inside the servers, per login (each process\'s `/metrics` histograms, read before and after the phase: `http_request_duration_seconds` from the request\'s arrival to its response, `fpa_federation_downstream_seconds` AS1\'s calls to AS2):',
    '',
    line(['Process', 'Request or call', 'Local: per login', 'Local: mean (ms)', 'Federated: per login', 'Federated: mean (ms)']),
    line(['---', '---', '---:', '---:', '---:', '---:']),
    ...keys.map((k) => {
      const [process, what] = k.split('\u0000');
      return line([process, `\`${what}\``, ...cells(l.get(k)), ...cells(f.get(k))]);
    }),
    '',
  ];
}
