import { decodeJwtUnverified } from '@fpa/crypto';
import { expectOAuthError } from '../support/http';
import { startSmtpSink, type SmtpSink } from '../support/smtp';
import { ChallengeClient, DEVICE_CLIENT, extractCode } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';

const APP = { ...DEVICE_CLIENT, client_id: 'first-party-app', grant_types: ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code'] };

/**
 * Issue 7, finding 9, through HTTP and a real SMTP server: an e-mail address is an identifier only in
 * its plain addr-spec form, so nothing the mailer would deliver elsewhere becomes a verified
 * identity, and every spelling of one mailbox (Unicode or A-label domain) is one user.
 */
describe('authorization challenge: e-mail identifiers (standalone, PostgreSQL + Redis, SMTP)', () => {
  let suite: RunningApp;
  let smtp: SmtpSink;
  const count = async (table: string): Promise<number> => Number((await suite.env.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`))[0].n);
  const start = async (params: Record<string, string>): Promise<{ c: ChallengeClient; res: Awaited<ReturnType<ChallengeClient['send']>> }> => {
    const c = await ChallengeClient.create(suite.issuer);
    const res = await c.send({ client_id: APP.client_id, response_type: 'code', scope: 'openid', code_challenge: c.codeChallenge, code_challenge_method: 'S256', ...params });
    return { c, res };
  };
  /** Lets a message that should not have been sent reach the SMTP sink before asserting there is none. */
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 300));

  beforeAll(async () => {
    smtp = await startSmtpSink();
    suite = await startStandalone('challengeemailids', { SMTP_URL: smtp.url, CHALLENGE_RESEND_SECONDS: '0' });
    await suite.createClient(APP);
  });
  afterAll(async () => {
    await suite?.close();
    await smtp?.close();
  });

  const HOSTILE = [
    '"x"<a@evil.com>',
    'victim@example.com <a@evil.com>',
    '<a@evil.com>',
    'a@evil.com, victim@example.com',
    'group: a@evil.com;',
    'victim@example.com.',
    'victim(a@evil.com)@example.com',
    'a@[127.0.0.1]',
    'a@ex%61mple.com',
    'victim@example.com\r\nBcc: a@evil.com',
  ];

  it('hostile syntax in email= or login_hint= → invalid_request; nothing is sent, no user or authentication stored', async () => {
    const [messages, users, auths] = [smtp.messages.length, await count('users'), await count('user_authentications')];
    for (const hostile of HOSTILE) {
      const byEmail = (await start({ email: hostile })).res;
      expectOAuthError(byEmail, 400, 'invalid_request');
      const byHint = (await start({ login_hint: hostile, challenge_type: 'email_otp' })).res;
      expectOAuthError(byHint, 400, 'invalid_request');
      // A hint alone that is no address is not taken for one: no code goes anywhere.
      const hintOnly = (await start({ login_hint: hostile })).res;
      expect(hintOnly.status).not.toBe(200);
      expect(hintOnly.body.status).not.toBe('code_sent');
    }
    await settle();
    expect(smtp.messages.slice(messages)).toEqual([]);
    expect(await count('users')).toBe(users);
    expect(await count('user_authentications')).toBe(auths);
  });

  it('the Unicode and A-label spellings of one address reach the same user (same sub); the code goes to the A-label address', async () => {
    const subs: unknown[] = [];
    for (const spelling of ['Dana@Bücher.Example', 'dana@xn--bcher-kva.example', 'DANA@bu\u0308cher.example']) {
      const { c, res } = await start({ login_hint: spelling });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: 'insufficient_authorization', challenge_type: 'email_otp', status: 'code_sent', destination: 'd**a@xn--bcher-kva.example' });
      // smtp-server reports envelope recipients with the domain decoded to Unicode; the header shows what was sent.
      const mail = await smtp.next('dana@bücher.example');
      expect(mail.raw).toMatch(/^To: dana@xn--bcher-kva\.example\r?$/m);
      const done = await c.send({ code: extractCode(mail.raw)! });
      expect(done.status).toBe(200);
      const tokens = await c.redeem(done.body.authorization_code as string, { client_id: APP.client_id });
      expect(tokens.status).toBe(200);
      subs.push(decodeJwtUnverified(tokens.body.access_token as string).payload.sub);
    }
    expect(subs[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(subs).size).toBe(1);
    const users = await suite.env.db.query<{ id: string; email: string }>("SELECT id, email FROM users WHERE email LIKE 'dana@%'");
    expect(users).toEqual([{ id: subs[0], email: 'dana@xn--bcher-kva.example' }]);
    // Every message went to the one normalised mailbox.
    expect(smtp.messages.filter((m) => m.to.some((t) => t.startsWith('dana@'))).flatMap((m) => m.to)).toEqual(Array(3).fill('dana@bücher.example'));
  });
});
