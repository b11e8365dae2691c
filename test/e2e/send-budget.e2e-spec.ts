import { expectOAuthError, type FormResponse } from '../support/http';
import { SMS_BODY, startSmsReceiver, type SmsReceiver } from '../support/sms';
import { startSmtpSink, type SmtpSink } from '../support/smtp';
import { ChallengeClient, DEVICE_CLIENT } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';

const PER_CLIENT = 3;
const GLOBAL = 8;
const client = (id: string): Record<string, unknown> => ({ ...DEVICE_CLIENT, client_id: id, grant_types: ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code'] });

/**
 * Issue 7, finding 10 (SMS pumping), through HTTP on real PostgreSQL and Redis: every flow is a fresh
 * public session with a new DPoP key and a new number, so only the per-client and global hourly
 * send budgets can stop it. The tests build on each other's spending, in order.
 */
describe('send budgets: SMS per client and global per hour (standalone, PostgreSQL + Redis)', () => {
  let suite: RunningApp;
  let sms: SmsReceiver;
  let smtp: SmtpSink;
  let numbers = 0;

  /** A new flow for `clientId` that asks for a code to a number never used before. */
  const pump = async (clientId: string): Promise<{ res: FormResponse; to: string }> => {
    const to = `+4477009${String(++numbers).padStart(5, '0')}`;
    const c = await ChallengeClient.create(suite.issuer);
    const res = await c.send({ client_id: clientId, response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256', phone: to });
    return { res, to };
  };
  const expectSent = async (clientId: string): Promise<void> => {
    const { res, to } = await pump(clientId);
    expect({ status: res.status, error: res.body.error, status_: res.body.status }).toEqual({ status: 403, error: 'insufficient_authorization', status_: 'code_sent' });
    expect(sms.requests.at(-1)?.body?.recipient).toBe(to);
  };
  const expectRefused = async (clientId: string): Promise<void> => {
    const before = sms.requests.length;
    const { res } = await pump(clientId);
    expectOAuthError(res, 429, 'slow_down');
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect(sms.requests.length).toBe(before);
  };
  /** A counter's value from GET /metrics (Prometheus text format). */
  const metric = async (name: string, labels: Record<string, string>): Promise<number> => {
    const text = await (await fetch(`${suite.issuer}/metrics`)).text();
    const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };

  beforeAll(async () => {
    // The budgets are clock hours: do not start a few seconds before one ends.
    const left = 3600 - (Math.floor(Date.now() / 1000) % 3600);
    if (left < 20) await new Promise((r) => setTimeout(r, (left + 1) * 1000));
    sms = await startSmsReceiver();
    smtp = await startSmtpSink();
    suite = await startStandalone('sendbudget', {
      // The 503s below are deliberate; keep their error lines out of the test output.
      LOG_LEVEL: 'fatal',
      SMS_PROVIDER_URL: `${sms.url}/sms`,
      SMS_PROVIDER_BODY: SMS_BODY,
      SMTP_URL: smtp.url,
      SEND_BUDGET_SMS_PER_CLIENT: String(PER_CLIENT),
      SEND_BUDGET_SMS_GLOBAL: String(GLOBAL),
    });
    for (const id of ['app-f', 'app-a', 'app-b', 'app-c']) await suite.createClient(client(id));
  });
  afterAll(async () => {
    await suite?.close();
    await sms?.close();
    await smtp?.close();
  });

  it('a failed delivery does not consume budget: after four 503s the client still has all of it', async () => {
    sms.mode = 'fail';
    for (let i = 0; i <= PER_CLIENT; i++) expectOAuthError((await pump('app-f')).res, 503, 'temporarily_unavailable');
    sms.mode = 'ok';
    expect(await metric('fpa_messages_sent_total', { channel: 'sms', outcome: 'failed' })).toBe(PER_CLIENT + 1);
    for (let i = 0; i < PER_CLIENT; i++) await expectSent('app-f');
    await expectRefused('app-f');
  });

  it(`per client: ${PER_CLIENT} sends from fresh sessions, then 429 slow_down with Retry-After; another client still sends`, async () => {
    for (let i = 0; i < PER_CLIENT; i++) await expectSent('app-a');
    await expectRefused('app-a');
    await expectRefused('app-a');
    expect(await metric('fpa_send_budget_exhausted_total', { scope: 'client', channel: 'sms' })).toBe(3);
    // 6 of the global 8 spent (app-f's failed attempts took none): app-b is not affected by app-a's budget.
    await expectSent('app-b');
  });

  it('global: once all clients together spent it, everyone is refused — a client that sent nothing too', async () => {
    await expectSent('app-b');
    await expectRefused('app-c');
    await expectRefused('app-b');
    expect(await metric('fpa_send_budget_exhausted_total', { scope: 'global', channel: 'sms' })).toBe(2);
    expect(await metric('fpa_messages_sent_total', { channel: 'sms', outcome: 'sent' })).toBe(GLOBAL);
    // Email has a budget of its own.
    const c = await ChallengeClient.create(suite.issuer);
    const email = await c.send({ client_id: 'app-c', response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256', email: 'erin@example.com' });
    expect(email.body).toMatchObject({ error: 'insufficient_authorization', status: 'code_sent' });
    await expect(smtp.code('erin@example.com')).resolves.toMatch(/^\d{6}$/);
  });
});
