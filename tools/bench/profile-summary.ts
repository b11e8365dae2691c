import { readFileSync } from 'node:fs';

/**
 * `npm run bench:profile -- <file.cpuprofile> [--top N]` (issue 13): where a server's CPU went, from
 * a V8 CPU profile (`BENCH_APP_NODE_ARGS="--cpu-prof --cpu-prof-dir=…"` on a benchmark run). Shares
 * are of the *busy* samples (everything but idle), so a profile of a run on a busy machine, which
 * idles more, compares with one of a quiet run: self time by category (a dependency, a lib of ours,
 * Node's internals, GC), the top functions by self time, and by inclusive time.
 */

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface Share {
  readonly name: string;
  /** Of the busy samples, 0..1. */
  readonly share: number;
}

export interface ProfileSummary {
  readonly samples: number;
  readonly busySamples: number;
  readonly seconds: number;
  readonly byCategory: Share[];
  readonly selfTop: Share[];
  readonly inclusiveTop: Share[];
}

const short = (url: string): string => url.replace(/^.*node_modules\//, 'nm/').replace(/^.*\/dist\//, 'dist/');

/** The category of a frame's self time (pure). */
export function categoryOf(f: CallFrame): string {
  const u = f.url;
  if (f.functionName === '(garbage collector)') return 'GC';
  if (f.functionName === '(idle)') return 'idle';
  if (f.functionName === '(program)') return 'program (V8, native)';
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u);
  if (dep) return dep[1];
  const ours = /\/dist\/((?:libs|apps|tools)\/[^/]+)\//.exec(u);
  if (ours) return `ours: ${ours[1]}`;
  if (/^node:internal\/crypto/.test(u)) return 'node: crypto';
  if (u.startsWith('node:')) return `node: ${u.slice(5).split('/').slice(0, 2).join('/')}`;
  return `native: ${f.functionName || '(anonymous)'}`;
}

const frameKey = (f: CallFrame): string => `${f.functionName || '(anonymous)'} ${short(f.url)}:${f.lineNumber + 1}`;

function top(map: Map<string, number>, busy: number, n: number): Share[] {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, count]) => ({ name, share: count / busy }));
}

/** The summary of a profile (pure); idle samples are left out of every share. */
export function summarizeProfile(p: CpuProfile, n = 40): ProfileSummary {
  const nodes = new Map(p.nodes.map((x) => [x.id, x]));
  const parent = new Map<number, number>();
  for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const counts = new Map<number, number>();
  for (const s of p.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const byCategory = new Map<string, number>();
  let busy = 0;
  for (const [id, count] of counts) {
    const node = nodes.get(id)!;
    const category = categoryOf(node.callFrame);
    if (category === 'idle') continue;
    busy += count;
    byCategory.set(category, (byCategory.get(category) ?? 0) + count);
    self.set(frameKey(node.callFrame), (self.get(frameKey(node.callFrame)) ?? 0) + count);
    // Inclusive: each function once per sample, however often it recurs on the stack.
    const seen = new Set<string>();
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const key = frameKey(nodes.get(x)!.callFrame);
      if (key.startsWith('(root)') || seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + count);
    }
  }
  const denominator = Math.max(1, busy);
  return {
    samples: p.samples.length,
    busySamples: busy,
    seconds: (p.endTime - p.startTime) / 1e6,
    byCategory: top(byCategory, denominator, Infinity),
    selfTop: top(self, denominator, n),
    inclusiveTop: top(inclusive, denominator, n),
  };
}

const pct = (s: number): string => `${(s * 100).toFixed(1).padStart(5)} %`;

export function renderProfileSummary(s: ProfileSummary, minCategoryShare = 0.002): string {
  const out = [`${s.samples} samples over ${s.seconds.toFixed(1)} s, ${((s.busySamples / Math.max(1, s.samples)) * 100).toFixed(1)} % busy; shares below are of the busy samples.`, '', 'Self time by category:'];
  for (const c of s.byCategory.filter((c) => c.share >= minCategoryShare)) out.push(`${pct(c.share)}  ${c.name}`);
  out.push('', 'Top functions, self time:');
  for (const f of s.selfTop) out.push(`${pct(f.share)}  ${f.name}`);
  out.push('', 'Top functions, inclusive time:');
  for (const f of s.inclusiveTop) out.push(`${pct(f.share)}  ${f.name}`);
  return out.join('\n');
}

function main(argv: readonly string[]): void {
  const files = argv.filter((a, i) => !a.startsWith('--') && argv[i - 1] !== '--top');
  const topAt = argv.indexOf('--top');
  const n = topAt >= 0 ? Number(argv[topAt + 1]) : 40;
  if (files.length !== 1 || !Number.isInteger(n) || n < 1) {
    console.error('usage: npm run bench:profile -- <file.cpuprofile> [--top N]');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(files[0], 'utf8')) as CpuProfile;
  console.log(renderProfileSummary(summarizeProfile(profile, n)));
}

if (require.main === module) main(process.argv.slice(2));
