import { loadConfig } from '@fpa/config';
import { FixedClock, OAuthError } from '@fpa/oauth-core';
import { MetricsRegistry } from '@fpa/platform';
import { MemoryStore, type EphemeralStore } from '@fpa/store';
import { MessagingMetrics } from './messaging.metrics';
import { MeteredSender } from './metered-sender';
import { SendBudget } from './send-budget';

// 10:59:30 on some day: 30 seconds before the hour ends.
const START = (Math.floor(1_760_000_000 / 3600) + 1) * 3600 * 1000 - 30_000;

function setUp(env: Record<string, string> = {}): { budget: SendBudget; clock: FixedClock; store: MemoryStore; metrics: MessagingMetrics } {
  const clock = new FixedClock(START);
  const store = new MemoryStore(() => clock.nowMs());
  const metrics = new MessagingMetrics(new MetricsRegistry());
  const config = loadConfig('standalone', { SEND_BUDGET_SMS_PER_CLIENT: '2', SEND_BUDGET_SMS_GLOBAL: '3', SEND_BUDGET_EMAIL_PER_CLIENT: '5', SEND_BUDGET_EMAIL_GLOBAL: '5', ...env });
  return { budget: new SendBudget(config, store, clock, metrics), clock, store, metrics };
}

async function refusal(p: Promise<unknown>): Promise<OAuthError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(OAuthError);
  return e as OAuthError;
}

const exhausted = async (metrics: MessagingMetrics, scope: string, channel: string): Promise<number | undefined> =>
  (await metrics.budgetExhausted.get()).values.find((v) => v.labels.scope === scope && v.labels.channel === channel)?.value;

describe('SendBudget (issue 7, finding 10)', () => {
  let open: MemoryStore[] = [];
  const track = <T extends { store: MemoryStore }>(t: T): T => (open.push(t.store), t);
  afterEach(async () => {
    await Promise.all(open.map((s) => s.close()));
    open = [];
  });

  it('per client: the (N+1)th send in the hour is 429 slow_down with Retry-After until the hour ends', async () => {
    const { budget, metrics } = track(setUp());
    await budget.consume('sms', 'app-a');
    await budget.consume('sms', 'app-a');
    const e = await refusal(budget.consume('sms', 'app-a'));
    expect({ code: e.code, status: e.status, retryAfter: e.headers['Retry-After'], reason: e.reason }).toEqual({ code: 'slow_down', status: 429, retryAfter: '30', reason: 'send_budget:client:sms' });
    expect(e.description).not.toMatch(/app-a/);
    expect(await exhausted(metrics, 'client', 'sms')).toBe(1);
  });

  it('a client refusal takes nothing: not from the client, not from the global budget', async () => {
    const { budget } = track(setUp());
    const first = await budget.consume('sms', 'app-a');
    await budget.consume('sms', 'app-a');
    await refusal(budget.consume('sms', 'app-a'));
    await refusal(budget.consume('sms', 'app-a'));
    // One unit given back makes exactly one more send possible: the refusals counted nothing.
    await first.giveBack();
    await budget.consume('sms', 'app-a');
    await refusal(budget.consume('sms', 'app-a'));
    // Global 3: two spent by app-a, so app-b gets exactly one.
    await budget.consume('sms', 'app-b');
    await refusal(budget.consume('sms', 'app-b'));
  });

  it('global: once every client together spent it, everyone is refused; a global refusal keeps no client unit', async () => {
    const { budget, metrics } = track(setUp());
    await budget.consume('sms', 'app-a');
    await budget.consume('sms', 'app-b');
    const c = await budget.consume('sms', 'app-c');
    const e = await refusal(budget.consume('sms', 'app-d'));
    expect(e.reason).toBe('send_budget:global:sms');
    expect(e.headers['Retry-After']).toBe('30');
    await refusal(budget.consume('sms', 'app-d'));
    await refusal(budget.consume('sms', 'app-a'));
    expect(await exhausted(metrics, 'global', 'sms')).toBe(3);
    // A global unit comes free: app-d, refused twice, still has its whole client budget for it.
    await c.giveBack();
    await expect(budget.consume('sms', 'app-d')).resolves.toMatchObject({ channel: 'sms' });
    await refusal(budget.consume('sms', 'app-d'));
  });

  it('budgets are per channel', async () => {
    const { budget } = track(setUp());
    await budget.consume('sms', 'app-a');
    await budget.consume('sms', 'app-a');
    await refusal(budget.consume('sms', 'app-a'));
    await expect(budget.consume('email', 'app-a')).resolves.toMatchObject({ channel: 'email' });
  });

  it('giveBack returns the unit to both budgets, once', async () => {
    const { budget } = track(setUp());
    const first = await budget.consume('sms', 'app-a');
    await budget.consume('sms', 'app-a');
    await first.giveBack();
    await first.giveBack();
    await first.giveBack();
    // One unit back for app-a (not three), and one back globally.
    await budget.consume('sms', 'app-a');
    await refusal(budget.consume('sms', 'app-a'));
    await budget.consume('sms', 'app-b');
    await refusal(budget.consume('sms', 'app-b'));
  });

  it('a new clock hour is a new budget; a unit given back after the hour does not add to the next one', async () => {
    const { budget, clock } = track(setUp());
    await budget.consume('sms', 'app-a');
    const late = await budget.consume('sms', 'app-a');
    await refusal(budget.consume('sms', 'app-a'));
    clock.advance(30);
    await budget.consume('sms', 'app-a');
    await late.giveBack();
    await budget.consume('sms', 'app-a');
    const e = await refusal(budget.consume('sms', 'app-a'));
    expect(e.headers['Retry-After']).toBe('3600');
  });

  it('giveBack never throws, even when the store is gone', async () => {
    const { budget, store } = track(setUp());
    const spent = await budget.consume('email', 'app-a');
    const failing = store as EphemeralStore & { unhit: EphemeralStore['unhit'] };
    failing.unhit = () => Promise.reject(new OAuthError('temporarily_unavailable'));
    await expect(spent.giveBack()).resolves.toBeUndefined();
  });
});

describe('MeteredSender', () => {
  it('counts sent and failed messages per channel and passes failures on', async () => {
    const metrics = new MessagingMetrics(new MetricsRegistry());
    const ok = new MeteredSender({ kind: 'test', send: async () => undefined }, 'sms', metrics);
    const broken = new MeteredSender({ kind: 'test', send: () => Promise.reject(new Error('down')) }, 'sms', metrics);
    await ok.send({ to: '+442079460958', text: 'x' });
    await ok.send({ to: '+442079460958', text: 'x' });
    await expect(broken.send({ to: '+442079460958', text: 'x' })).rejects.toThrow('down');
    const values = (await metrics.messagesSent.get()).values.map((v) => [v.labels.channel, v.labels.outcome, v.value]);
    expect(values).toEqual(expect.arrayContaining([['sms', 'sent', 2], ['sms', 'failed', 1]]));
    expect(ok.kind).toBe('test');
  });
});
