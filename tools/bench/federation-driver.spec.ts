import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTransport } from 'nodemailer';
import { FEDERATED_STEPS, LOCAL_STEPS, prepareLogins, runFederatedLogins } from './federation-flow';
import { startCodeSink, type CodeSink } from './smtp-sink';

/**
 * The federated-login driver against two stand-in servers (FED-5/10/12/13): AS1 routes, federates
 * and takes AS2's code at its response_uri; AS2 asks for the method, mails a code and issues its
 * code. Each has its own DPoP nonce; every proof must name the URL it is sent to. AS2 refuses the
 * code of one address: the walk carries the refusal to AS1, and it counts as that login's failure, not a stop.
 */
describe('federated login driver (issue 10)', () => {
  let sink: CodeSink;
  const servers: http.Server[] = [];
  const origins: string[] = [];
  const sent = new Map<string, string>();
  const challenges = new Map<string, string>();

  const stand = (name: 'as1' | 'as2', handle: (path: string, form: Record<string, string>, origin: string) => Promise<[number, Record<string, unknown>]>): Promise<string> => {
    const server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        void (async () => {
          const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
          const form = Object.fromEntries(new URLSearchParams(raw));
          const proof = JSON.parse(Buffer.from(String(req.headers.dpop).split('.')[1], 'base64url').toString()) as { nonce?: string; htu: string };
          const reply = (status: number, body: Record<string, unknown>): void => {
            res.writeHead(status, { 'content-type': 'application/json', 'dpop-nonce': `nonce-${name}` });
            res.end(JSON.stringify(body));
          };
          if (proof.htu !== `${origin}${req.url}`) return reply(400, { error: 'invalid_dpop_proof' });
          if (proof.nonce !== `nonce-${name}`) return reply(400, { error: 'use_dpop_nonce' });
          const [status, body] = await handle(req.url ?? '/', form, origin);
          reply(status, body);
        })();
      });
    });
    servers.push(server);
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
  };

  /** The e-mail OTP both servers run: method_required, then code_sent by SMTP, then the code. */
  const emailOtp = async (form: Record<string, string>, session: string, codeFor: (email: string) => string, mail: ReturnType<typeof createTransport>): Promise<[number, Record<string, unknown>]> => {
    if (form.email) {
      const code = String(100000 + sent.size);
      sent.set(`${session}|${form.email}`, code);
      await mail.sendMail({ from: 'as@example.com', to: form.email, subject: 'code', text: `Your sign-in code is ${code}. It expires.` });
      return [403, { error: 'insufficient_authorization', status: 'code_sent', methods: ['email_otp'], auth_session: `${session}|${form.email}` }];
    }
    if (form.code) {
      if (sent.get(form.auth_session) !== form.code || form.auth_session.includes('f3.')) return [400, { error: 'invalid_grant', auth_session: form.auth_session }];
      return [200, { authorization_code: codeFor(form.auth_session.split('|')[1]), auth_session: form.auth_session }];
    }
    return [403, { error: 'insufficient_authorization', status: 'method_required', methods: ['email_otp'], auth_session: session }];
  };

  beforeAll(async () => {
    sink = await startCodeSink();
    const mail = createTransport(sink.url);
    origins[1] = await stand('as2', async (_path, form) => {
      if (form.request_uri === 'urn:pushed' && form.client_id === 'as1') return [403, { error: 'insufficient_authorization', status: 'method_required', methods: ['email_otp'], auth_session: 'as2' }];
      return emailOtp(form, 'as2', (email) => `as2-code-${email}`, mail);
    });
    origins[0] = await stand('as1', async (path, form, origin) => {
      if (path === '/token') {
        const email = form.code.replace('as1-code-', '');
        const ok = createHash('sha256').update(form.code_verifier).digest('base64url') === challenges.get(email);
        return ok ? [200, { access_token: 'at', token_type: 'DPoP' }] : [400, { error: 'invalid_grant' }];
      }
      if (path === '/federation/callback') {
        // FED-13: a downstream error is forwarded here too; it ends the federation.
        if (form.error) return [400, { error: 'access_denied', downstream_error: form.error, auth_session: form.auth_session }];
        const email = form.authorization_code.replace('as2-code-', '');
        return form.auth_session === 'as1' ? [200, { authorization_code: `as1-code-${email}`, auth_session: 'as1' }] : [400, { error: 'invalid_session' }];
      }
      if (form.client_id) {
        // The code_challenge of each login is known to the test by its address (set from the logins' verifiers).
        return [400, { error: 'insufficient_information', auth_session: `as1-${form.code_challenge}`, userPrompt: { options: { bank: { title: 'Bank', values: { 'bank-b': { name: 'B' }, here: { name: 'Here' } } } } } }];
      }
      if (form.bank === 'bank-b') return [400, { error: 'federate', auth_session: 'as1', federation_uri: `${origins[1]}/authorize-challenge`, federation_body: 'client_id=as1&request_uri=urn%3Apushed', response_uri: `${origin}/federation/callback` }];
      return emailOtp(form, 'as1', (email) => `as1-code-${email}`, mail);
    });
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    await sink.close();
  });

  it('walks AS1 → federate → AS2 (own nonce) → AS1’s response_uri → AS1’s token, timing each step, and counts a refused code as one failed login', async () => {
    const logins = await prepareLogins(5, 'drv');
    const byEmail = new Map(logins.map((l) => [l.email, createHash('sha256').update(l.verifier).digest('base64url')]));
    for (const [email, challenge] of byEmail) challenges.set(email, challenge);
    const r = await runFederatedLogins({ title: 't', variant: 'federated', home: origins[0], clientId: 'app', logins, concurrency: 1, stopAt: Date.now() + 20_000, sink });
    expect(r.roundsStarted).toBe(5);
    expect(r.completed).toBe(4);
    // The walk carries AS2's refusal to AS1's response_uri (FED-13), whose answer ends the login.
    expect([...r.unexpected]).toEqual([['callback 400', 1]]);
    expect(r.errors).toBe(0);
    for (const s of FEDERATED_STEPS) expect(r.steps[s].completed).toBe(4);
    expect(r.steps.downstream_email.latency.p50).toBeGreaterThan(0);
    // One nonce per server, learnt once and kept for every later app.
    expect(r.nonceRetries).toBe(2);
    expect(r.emailsReceived).toBe(5);
  });

  it('routed local: the same walk stays at AS1 (no federate, the e-mail OTP there)', async () => {
    const logins = await prepareLogins(3, 'loc');
    for (const l of logins) challenges.set(l.email, createHash('sha256').update(l.verifier).digest('base64url'));
    const r = await runFederatedLogins({ title: 't', variant: 'local', home: origins[0], clientId: 'app', logins, concurrency: 2, stopAt: Date.now() + 20_000, sink });
    expect(r.completed).toBe(3);
    expect(r.unexpected.size).toBe(0);
    for (const s of LOCAL_STEPS) expect(r.steps[s].completed).toBe(3);
  });
});
