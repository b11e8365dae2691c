import type { PhaseResult } from './load';
import { readOptions } from './options';
import { MARKER, type MachineInfo } from './report';
import { cpuPerItem, degradation, failureKind, isPendingPoll, mergeWalletSection, renderWalletSection, WALLET_DELAY_MAX_MS, WALLET_DELAY_MIN_MS, WALLET_END, WALLET_START, walletDelayMs, type WalletSectionInput } from './wallet-stats';

// Issue 11's load benchmark: the pure parts (what a poll may answer, the wallets' stagger, the section and its markers).

const latency = (p50: number, p99: number) => ({ p50, p90: p99, p99, max: p99 * 2, mean: p50 });
const phase = (rps: number, p50: number, p99: number): PhaseResult & { serverCpuMs: number } =>
  ({ title: 't', connections: 32, offeredRate: rps, planned: rps * 10, completed: rps * 10, seconds: 10, rps, latency: latency(p50, p99), non2xx: 0, errors: 0, serverCpuMs: rps * 10 * 1.5 }) as unknown as PhaseResult & { serverCpuMs: number };
const MACHINE: MachineInfo = { nproc: 2, cpuModel: 'AMD EPYC', memTotalBytes: 24 * 2 ** 30, node: 'v20.20.2', os: 'Linux', loadAverage: [3.5, 2, 1] };

const input = (): WalletSectionInput => ({
  date: new Date('2026-12-01T20:00:00Z'),
  commit: 'abc1234',
  machine: MACHINE,
  baseline: phase(200, 10, 40),
  loaded: phase(196, 12, 60),
  load: { flows: 100, begun: 380, completed: 379, polls: 2_400, seconds: 30, pollLatency: latency(8, 45), beginLatency: latency(20, 90), tokenLatency: latency(15, 70), codeAfterPostMs: latency(500, 990), nonceRetries: 0, methodRequiredAfterPost: 0, failureCount: 0, benchCpuMs: 15_000, challengeCpuMs: 12_000 },
  posts: [{ kind: 'SD-JWT VC, direct_post', posts: 100, cpuMsPerPost: 6.5, wallMsPerPost: 9 }],
  micro: [{ what: 'verifySdJwtPresentation', runs: 100, cpuMsPerCall: 3.2, wallMsPerCall: 3.4 }],
  settings: ['one setting'],
  problems: [],
});

describe('wallet benchmark (issue 11)', () => {
  it('accepts only 403 insufficient_authorization with status pending as a poll’s non-2xx answer (WALLET-2)', () => {
    expect(isPendingPoll(403, { error: 'insufficient_authorization', status: 'pending' })).toBe(true);
    expect(isPendingPoll(403, { error: 'insufficient_authorization', status: 'presentation_required' })).toBe(false);
    expect(isPendingPoll(400, { error: 'insufficient_authorization', status: 'pending' })).toBe(false);
    expect(isPendingPoll(403, { error: 'invalid_session', status: 'pending' })).toBe(false);
    expect(isPendingPoll(200, { authorization_code: 'c' })).toBe(false);
  });

  it('staggers the wallets over the whole window, differently for neighbouring slots and rounds', () => {
    const delays = Array.from({ length: 100 }, (_, slot) => walletDelayMs(slot, 0));
    expect(Math.min(...delays)).toBe(WALLET_DELAY_MIN_MS);
    expect(Math.max(...delays)).toBe(WALLET_DELAY_MAX_MS);
    expect(new Set(delays).size).toBe(33);
    expect(delays.every((d) => d % 250 === 0)).toBe(true);
    expect(walletDelayMs(1, 0)).not.toBe(walletDelayMs(0, 0));
    expect(walletDelayMs(0, 1)).not.toBe(walletDelayMs(0, 0));
    expect(walletDelayMs(5, 3)).toBe(walletDelayMs(5, 3));
  });

  it('groups unexpected answers by kind, whatever their session, description and numbers', () => {
    const a = failureKind('poll 403 after the wallet\'s post began: {"error":"insufficient_authorization","auth_session":"abc","status":"method_required"}');
    expect(a).toBe(failureKind('poll 403 after the wallet\'s post began: {"error":"insufficient_authorization","auth_session":"xyz","status":"method_required"}'));
    expect(failureKind('flow not done after 30000 ms')).toBe(failureKind('flow not done after 25000 ms'));
    expect(a).not.toBe(failureKind('poll 400: {"error":"invalid_session","error_description":"x"}'));
  });

  it('divides CPU by items, NaN when a sample is missing or nothing was done', () => {
    expect(cpuPerItem(1_000, 1_650, 100)).toBeCloseTo(6.5);
    expect(cpuPerItem(undefined, 1_650, 100)).toBeNaN();
    expect(cpuPerItem(1_000, undefined, 100)).toBeNaN();
    expect(cpuPerItem(1_000, 1_650, 0)).toBeNaN();
  });

  it('states the other endpoint’s change with the polling, signed', () => {
    expect(degradation(phase(200, 10, 40), phase(196, 12, 60))).toEqual({ rps: '-2 %', p50: '+20 %', p99: '+50 %' });
  });

  it('renders the section between its markers, with the machine, its load and both token rows', () => {
    const text = renderWalletSection(input());
    expect(text.startsWith(WALLET_START)).toBe(true);
    expect(text.endsWith(WALLET_END)).toBe(true);
    expect(text).toContain('load average at start 3.50 2.00 1.00');
    expect(text).toContain('Other work was running on this machine');
    expect(renderWalletSection({ ...input(), machine: { ...MACHINE, loadAverage: [0.2, 0.3, 0.4] } })).not.toContain('Other work was running');
    expect(text).toMatch(/\| alone \| 2,000 \| 200 \| 10\.0 \| 40\.0 \|/);
    expect(text).toMatch(/\| with 100 cross-device flows polling every second \| 1,960 \| 196 \| 12\.0 \| 60\.0 \|/);
    expect(text).toContain('**379 completed**');
    expect(text).toContain('15,000 ms, 0.50 of the 2 cores');
    expect(text).toContain('| SD-JWT VC, direct_post | 100 | 6.50 | 9.00 |');
    expect(text).toContain('| `verifySdJwtPresentation` | 100 | 3.20 | 3.40 |');
    expect(text).not.toContain('This run failed');
  });

  it('says at the top when the run failed, each problem by its first line', () => {
    const text = renderWalletSection({ ...input(), problems: ['100 polling cross-device flows: 5 unexpected answers (of 380 flows):\n  poll 403: {…}'] });
    expect(text).toContain('**This run failed** (`npm run bench` exited 1): 100 polling cross-device flows: 5 unexpected answers (of 380 flows).');
    expect(text).not.toContain('poll 403');
  });

  it('replaces only its own section; the first time it goes above npm run bench’s marker', () => {
    const section = renderWalletSection(input());
    const doc = `# Benchmarks\n\nIntro.\n\n${WALLET_START}\nold\n${WALLET_END}\n\nHand-written.\n\n${MARKER}\n\n## Results\n`;
    const merged = mergeWalletSection(doc, section);
    expect(merged).toContain(section);
    expect(merged).not.toContain('\nold\n');
    expect(merged.replace(section, 'X')).toBe(doc.replace(`${WALLET_START}\nold\n${WALLET_END}`, 'X'));
    const first = mergeWalletSection(`# Benchmarks\n\n${MARKER}\n\n## Results\n`, section);
    expect(first.indexOf(WALLET_END)).toBeLessThan(first.indexOf(MARKER));
    expect(first.endsWith(`${MARKER}\n\n## Results\n`)).toBe(true);
    expect(mergeWalletSection('# B\n', section)).toBe(`# B\n\n${section}\n`);
    expect(mergeWalletSection(undefined, section)).toContain(section);
  });

  it('reads the wallet options; a wallet-only run writes its own section unless BENCH_WRITE_DOCS=0', () => {
    const only = readOptions({ BENCH_ONLY: 'wallet' });
    expect([...only.phases]).toEqual(['wallet']);
    expect(only).toMatchObject({ walletFlows: 100, walletRate: 200, walletSeconds: 20, walletPosts: 100, writeDocs: false, writeWalletSection: true });
    expect(readOptions({ BENCH_ONLY: 'wallet', BENCH_WRITE_DOCS: '0' }).writeWalletSection).toBe(false);
    expect(readOptions({ BENCH_WALLET_FLOWS: '20', BENCH_WALLET_SECONDS: '5' })).toMatchObject({ walletFlows: 20, walletSeconds: 5 });
    expect(() => readOptions({ BENCH_WALLET_SECONDS: '100' })).toThrow(/BENCH_WALLET_SECONDS/);
    expect(() => readOptions({ BENCH_WALLET_FLOWS: '0' })).toThrow(/BENCH_WALLET_FLOWS/);
  });
});
