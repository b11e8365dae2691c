import fc from 'fast-check';
import { captureLogs, type LogCapture, type LogLine } from '../support/log-capture';
import { startFixtures, type Fixtures } from '../fuzz/fixtures';
import { badLogLines, countRows, describeRequest, judge, rowChanges } from '../fuzz/oracle';
import { focused, planFor, TARGET_BY_NAME, TARGETS, type Plan } from '../fuzz/targets';
import { closeTransport, send } from '../fuzz/transport';

/**
 * Issue 8: the property-based fuzz suite. Every endpoint of the standalone app, in production mode
 * on real PostgreSQL and Redis, gets generated hostile input (test/fuzz: boundary and random form
 * fields, duplicates, NUL and other controls, lone surrogates, huge and deep bodies, wrong content
 * types and codings, forged JWTs and DPoP proofs, header injection), and every response must hold
 * the properties of test/fuzz/oracle.ts — including that a refused request wrote no row and that
 * nothing was logged at error.
 *
 * `npm test` runs 1,000 requests or 15 s of them, whichever ends first (plus the app's start),
 * with a fresh seed, printed so a failure replays with FUZZ_SEED=<seed>; it stops at the first
 * failure and shrinks it. `npm run fuzz -- <count>` (tools/fuzz) runs the same properties for
 * `count` requests with no time limit and, with FUZZ_COLLECT=1, reports every distinct failure.
 */

const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 1000);
/** Without an explicit count (inside `npm test`) the properties share a time budget. */
const BUDGET_MS = process.env.FUZZ_REQUESTS === undefined ? 15_000 : undefined;
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const COLLECT = process.env.FUZZ_COLLECT === '1';
jest.setTimeout(120_000 + REQUESTS * 100);

interface Failure {
  readonly key: string;
  readonly detail: string;
}

describe(`fuzz: ${REQUESTS} hostile requests at every endpoint (seed ${SEED})`, () => {
  let fx: Fixtures;
  let logs: LogCapture;
  let rows: Record<string, number>;
  const failures = new Map<string, { count: number; example: string }>();
  const statuses = new Map<string, Map<string, number>>();
  let sent = 0;
  const started = Date.now();

  beforeAll(async () => {
    process.stdout.write(`fuzz: ${REQUESTS} requests, seed ${SEED} — replay with FUZZ_SEED=${SEED} FUZZ_REQUESTS=${REQUESTS}\n`);
    fx = await startFixtures();
    logs = captureLogs();
    rows = await countRows(fx.suite);
  });
  afterAll(async () => {
    logs?.restore();
    closeTransport();
    await fx?.close();
    const lines = [...statuses].sort().map(([family, by]) => `  ${family.padEnd(26)} ${[...by].sort((a, b) => a[0].localeCompare(b[0])).map(([s, n]) => `${s}×${n}`).join(' ')}`);
    process.stdout.write(`fuzz: ${sent} requests in ${((Date.now() - started) / 1000).toFixed(1)} s (seed ${SEED}), ${failures.size} distinct failures\n${lines.join('\n')}\n`);
  });

  /** One request from `plan`: sent, judged, rows and logs checked. Returns the problems found. */
  async function exercise(plan: Plan): Promise<Failure[]> {
    const target = TARGET_BY_NAME.get(plan.target)!;
    const req = await target.build(focused(plan), fx);
    logs.clear();
    const res = await send(fx.issuer, req);
    sent++;
    const byStatus = statuses.get(req.family) ?? new Map<string, number>();
    const outcome = `${res.status}${errorOf(res.body)}`;
    byStatus.set(outcome, (byStatus.get(outcome) ?? 0) + 1);
    statuses.set(req.family, byStatus);
    const verdict = judge(req, res, fx.secrets);
    const after = await countRows(fx.suite);
    const changes = rowChanges(rows, after);
    rows = after;
    // The completion log line is written when the response finished: give it a turn.
    await new Promise((r) => setImmediate(r));
    const problems: Failure[] = verdict.problems.map((p) => ({ key: `${req.family}: ${p}`, detail: p }));
    if (verdict.refused && changes.length > 0) problems.push({ key: `${req.family}: a refused request wrote rows`, detail: `a refused request wrote rows (${changes.join(', ')})` });
    for (const line of badLogLines(logs)) problems.push({ key: `${req.family}: logged ${String(line.msg)}`, detail: `logged at ${line.level}: ${summarize(line)}` });
    const context = `\n    request:  ${describeRequest(req)}\n    response: ${res.status} ${JSON.stringify(res.body.slice(0, 300))}`;
    return problems.map((p) => ({ key: p.key, detail: `${p.detail}${context}` }));
  }

  const totalWeight = TARGETS.reduce((n, t) => n + t.weight, 0);
  // REQUESTS shared by weight, exactly: the remainder goes one by one to the first targets.
  const shares = TARGETS.map((t) => Math.floor((REQUESTS * t.weight) / totalWeight));
  for (let i = 0, left = REQUESTS - shares.reduce((a, b) => a + b, 0); left > 0; i = (i + 1) % shares.length, left--) shares[i]++;
  TARGETS.forEach((target, i) => {
    const runs = Math.max(1, shares[i]);
    it(`${target.name}: ${runs} requests`, async () => {
      const known = new Set(failures.keys());
      const deadline = BUDGET_MS === undefined ? Infinity : Date.now() + Math.round((BUDGET_MS * target.weight) / totalWeight);
      await fc.assert(
        fc.asyncProperty(planFor(target), async (plan) => {
          // Over budget, the remaining runs send nothing (fast-check's own time limit would abandon a
          // request in flight, whose late writes the next property would then be blamed for).
          if (Date.now() > deadline) return true;
          const found = await exercise(plan);
          if (COLLECT) {
            for (const f of found) {
              const seen = failures.get(f.key);
              failures.set(f.key, { count: (seen?.count ?? 0) + 1, example: seen?.example ?? f.detail });
            }
            return true;
          }
          if (found.length > 0) throw new Error(found.map((f) => f.detail).join('\n'));
          return true;
        }),
        { numRuns: runs, seed: SEED + i, endOnFailure: COLLECT },
      );
      const fresh = [...failures].filter(([key]) => !known.has(key));
      if (fresh.length > 0) {
        throw new Error(`${fresh.length} distinct failures:\n${fresh.map(([key, f]) => `- ${key} (×${f.count})\n    ${f.example}`).join('\n')}`);
      }
    });
  });
});

/** ` error` of a JSON error body, for the outcome table. */
function errorOf(body: string): string {
  try {
    const error = (JSON.parse(body) as { error?: unknown }).error;
    return typeof error === 'string' ? ` ${error}` : '';
  } catch {
    return '';
  }
}

function summarize(line: LogLine): string {
  const err = line.err as { type?: string; message?: string; code?: string } | undefined;
  return `${String(line.msg)}${err ? ` — ${err.type ?? ''} ${err.code ?? ''} ${String(err.message ?? '').slice(0, 200)}` : ''}`;
}
