import type { BrowserRunResult, BrowserStep } from './browser-flow';
import type { ChallengeRunResult, Step } from './challenge-flow';
import type { ClosedLoopResult, StepStats } from './closed-loop';
import type { PhaseReport, ProcessUsage } from './report';

/** The per-step and per-process breakdown of a closed-loop round-trip phase, and the number formats of the report. */

export const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
export const ms = (n: number): string => (!Number.isFinite(n) ? '–' : n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0));
export const mib = (bytes: number | undefined): string => (bytes === undefined || !Number.isFinite(bytes) ? '–' : (bytes / 1024 / 1024).toFixed(0));

/** A round-trip phase as measured: what each process spent on it. */
export type RoundTripReport<S extends string = string> = PhaseReport &
  ClosedLoopResult<S> & {
    readonly processes: readonly ProcessUsage[];
    /** PostgreSQL backends of the bench database and the Redis server during the phase, when they run on this machine. */
    readonly storeUsage?: readonly ProcessUsage[];
  };

/** The email-OTP challenge round-trip phase (issue 3). */
export type ChallengePhaseReport = RoundTripReport<Step> & ChallengeRunResult;

/** One row of the step table: what the step is, which process answers it, its numbers. */
export type StepRow = readonly [label: string, server: string, stats: StepStats];

/**
 * A heading, the step table (with the whole round trip last), the process table (the app processes,
 * the stores, the bench process) and a summary line; `extra` is a clause of the summary line (ending in "; ").
 */
export function roundTripSection(heading: string, c: RoundTripReport, steps: readonly StepRow[], server: string, extra = ''): string[] {
  const out: string[] = [];
  out.push(heading, '');
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  const rows: StepRow[] = [...steps, ['**whole round trip**', server, { completed: c.completed, latency: c.latency }]];
  out.push(line(['Step', 'Server', 'Completed', 'Per second', 'p50 (ms)', 'p90 (ms)', 'p99 (ms)', 'max (ms)']));
  out.push(line(['---', '---', '---:', '---:', '---:', '---:', '---:', '---:']));
  for (const [name, by, s] of rows) {
    out.push(line([name, by, int(s.completed), int(s.completed / c.seconds), ms(s.latency.p50), ms(s.latency.p90), ms(s.latency.p99), ms(s.latency.max)]));
  }
  out.push('');
  out.push(line(['Process during the phase', 'CPU (cores)', 'CPU / round trip (ms)', 'Peak RSS (MiB)']));
  out.push(line(['---', '---:', '---:', '---:']));
  const cpu = (cpuMs: number | undefined): [string, string] =>
    cpuMs === undefined ? ['–', '–'] : [(cpuMs / 1000 / c.seconds).toFixed(2), c.completed === 0 ? '–' : (cpuMs / c.completed).toFixed(2)];
  for (const u of c.processes) out.push(line([u.name, ...cpu(u.cpuMs), mib(u.peakRssBytes)]));
  for (const u of c.storeUsage ?? []) out.push(line([u.name, ...cpu(u.cpuMs), '–']));
  out.push(line(['bench process (driver, HTTP client, SMTP sink)', ...cpu(c.clientCpuMs), '–']));
  out.push('');
  const failed = c.roundsStarted - c.completed;
  out.push(
    `${int(c.roundsStarted)} round trips started, ${int(c.completed)} completed${failed > 0 ? `, ${int(failed)} failed (${((failed / Math.max(1, c.roundsStarted)) * 100).toFixed(2)} %)` : ''}${c.timeBound ? ' (stopped by the time bound)' : ''} in ${c.seconds.toFixed(1)} s; ${int(c.emailsReceived)} emails reached the SMTP sink; ${extra}event-loop delay of the bench process p99 ${ms(c.clientLoopDelayP99Ms)} ms.`,
    '',
  );
  if (c.unexpected.size > 0) {
    out.push('Unexpected answers (a round trip stops at the first one):', '');
    for (const [key, n] of c.unexpected) out.push(`- ${key}: ${int(n)} — e.g. \`${(c.unexpectedSamples.get(key)?.[0] ?? '').slice(0, 300).replace(/`/g, "'")}\``);
    out.push('');
  }
  return out;
}

/** The per-step and per-process breakdown of the challenge round-trip phase. */
export function challengeSection(c: ChallengePhaseReport): string[] {
  const steps: StepRow[] = [
    ['begin — `POST /authorize-challenge` (client_id, response_type=code, S256 code_challenge, login_hint) → 403 `insufficient_authorization` `code_sent`, until the emailed code is in hand', 'challenge', c.steps.begin],
    ['answer — `POST /authorize-challenge` (auth_session, code) → 200 `authorization_code`', 'challenge', c.steps.answer],
    ['code exchange — `POST /token` `grant_type=authorization_code` (code_verifier, DPoP proof by the same key) → 200 DPoP tokens', 'token', c.steps.token],
  ];
  return roundTripSection('### Challenge round trip (issue 3)', c, steps, 'challenge + token', `${int(c.nonceRetries)} requests were repeated after \`use_dpop_nonce\`; `);
}

/** A browser login round-trip phase (issue 9), with or without the push at `/par` first. */
export type BrowserPhaseReport = RoundTripReport<Exclude<BrowserStep, 'par'>> & BrowserRunResult;

/** The per-step and per-process breakdown of a browser login phase. */
export function browserSection(c: BrowserPhaseReport): string[] {
  const steps: StepRow[] = [
    ...(c.steps.par ? [['push — `POST /par` (client_id, response_type=code, redirect_uri, scope, state, S256 code_challenge) → 201 `request_uri`', 'token', c.steps.par] as const] : []),
    [`login page — \`GET /authorize\` (${c.steps.par ? 'client_id, request_uri' : 'client_id, response_type=code, redirect_uri, scope, state, S256 code_challenge'}) → 200 email form with hidden \`interaction\` and \`csrf\`, \`Set-Cookie: fpa_login\``, 'challenge', c.steps.authorize],
    ['email — `POST /authorize/login` (interaction, csrf, challenge_type=email_otp, email) → 200 code page, until the emailed code is in hand', 'challenge', c.steps.email],
    ['code — `POST /authorize/login` (interaction, csrf, code) → 303 to the redirect URI with `code`, `state`, `iss`', 'challenge', c.steps.code],
    ['code exchange — `POST /token` `grant_type=authorization_code` (client_id, code_verifier, redirect_uri) → 200 Bearer tokens', 'token', c.steps.token],
  ];
  return roundTripSection(`### Browser login round trip${c.steps.par ? ' with PAR' : ''} (issue 9)`, c, steps, 'challenge + token');
}
