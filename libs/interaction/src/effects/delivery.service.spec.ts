import { DeliveryError, MessagingMetrics, SendBudget, type EmailMessage, type SmsMessage } from '@fpa/messaging';
import { FixedClock, OAuthError } from '@fpa/oauth-core';
import { MetricsRegistry } from '@fpa/platform';
import { MemoryStore } from '@fpa/store';
import { InteractionMetrics } from '../interaction.metrics';
import { counted, NOW, testConfig } from '../testing/fakes';
import { DeliveryService } from './delivery.service';

const MAIL = { channel: 'email' as const, to: 'ann@example.com', text: 'Your code is 123456' };

describe('DeliveryService: reserve, send, release (finding 10)', () => {
  let clock: FixedClock;
  let store: MemoryStore;
  let emails: EmailMessage[];
  let texts: SmsMessage[];
  let failure: Error | undefined;
  let metrics: InteractionMetrics;
  let delivery: DeliveryService;

  beforeEach(() => {
    clock = new FixedClock(NOW);
    store = new MemoryStore(() => clock.nowMs());
    [emails, texts, failure] = [[], [], undefined];
    const config = testConfig({ CHALLENGE_RESEND_SECONDS: '30', CHALLENGE_RATE_LIMIT_DESTINATION: '3', SEND_BUDGET_EMAIL_PER_CLIENT: '3', SEND_BUDGET_EMAIL_GLOBAL: '100' });
    const registry = new MetricsRegistry();
    metrics = new InteractionMetrics(registry);
    const sender = <M>(out: M[]) => ({
      kind: 'fake',
      send: async (m: M) => {
        if (failure) throw failure;
        out.push(m);
      },
    });
    delivery = new DeliveryService(config, store, sender(emails), sender(texts), new SendBudget(config, store, clock, new MessagingMetrics(registry)), metrics);
  });
  afterEach(async () => store.close());

  const refusal = async (p: Promise<unknown>): Promise<OAuthError> => {
    const e = await p.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(OAuthError);
    return e as OAuthError;
  };

  it('one code per destination per CHALLENGE_RESEND_SECONDS: slow_down with Retry-After', async () => {
    await delivery.reserve(MAIL, 'email_otp', 'app');
    const e = await refusal(delivery.reserve(MAIL, 'email_otp', 'app'));
    expect(e).toMatchObject({ code: 'slow_down', headers: { 'Retry-After': '30' } });
    expect(await counted(metrics.steps, { method: 'email_otp', outcome: 'throttled' })).toBe(1);
    await expect(delivery.reserve({ ...MAIL, to: 'bob@example.com' }, 'email_otp', 'app')).resolves.toBeDefined();
    clock.advance(30);
    await expect(delivery.reserve(MAIL, 'email_otp', 'app')).resolves.toBeDefined();
  });

  it('release gives the resend slot and the send budget back', async () => {
    await (await delivery.reserve(MAIL, 'email_otp', 'app')).release();
    await (await delivery.reserve(MAIL, 'email_otp', 'app')).release();
    for (const to of ['a', 'b', 'c', 'd']) await (await delivery.reserve({ ...MAIL, to: `${to}@example.com` }, 'email_otp', 'app')).release();
    // A budget of 3 per client: after six reservations given back, three still fit.
    for (const to of ['x', 'y', 'z']) await delivery.reserve({ ...MAIL, to: `${to}@example.com` }, 'email_otp', 'app');
    await expect(delivery.reserve(MAIL, 'email_otp', 'app')).rejects.toMatchObject({ code: 'slow_down' });
  });

  it('the hourly cap per destination counts attempts, even given back', async () => {
    for (let i = 0; i < 3; i++) await (await delivery.reserve(MAIL, 'email_otp', 'app')).release();
    await expect(delivery.reserve(MAIL, 'email_otp', 'app')).rejects.toMatchObject({ code: 'slow_down' });
  });

  it('a refused budget frees the resend slot it had taken', async () => {
    for (const to of ['a', 'b', 'c']) await delivery.reserve({ ...MAIL, to: `${to}@example.com` }, 'email_otp', 'app');
    await expect(delivery.reserve(MAIL, 'email_otp', 'app')).rejects.toMatchObject({ code: 'slow_down' });
    // Another client's budget is untouched, and the slot for MAIL.to is free again.
    await expect(delivery.reserve(MAIL, 'email_otp', 'other-app')).resolves.toBeDefined();
  });

  it('sends e-mail with a default subject and SMS as text; a transport failure is a DeliveryError', async () => {
    await delivery.send(MAIL);
    await delivery.send({ channel: 'sms', to: '+447700900123', text: 'code' });
    expect(emails).toEqual([{ to: 'ann@example.com', subject: 'Your sign-in code', text: 'Your code is 123456' }]);
    expect(texts).toEqual([{ to: '+447700900123', text: 'code' }]);
    failure = new Error('ECONNREFUSED');
    await expect(delivery.send(MAIL)).rejects.toBeInstanceOf(DeliveryError);
  });
});
