import { decodeJwtUnverified } from '@fpa/crypto';
import { ChallengeClient, createSuiteEnv, DEVICE_CLIENT, freePort, runCli, spawnApp, type AppProcess, type SuiteEnv } from '@fpa/testing';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

const APP = { ...DEVICE_CLIENT, client_id: 'split-app', grant_types: ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code'] };

/**
 * The challenge service as its own process (CONTRACT §1): the challenge app and the token app share
 * PostgreSQL and Redis behind one issuer. The flow runs on the challenge process, the code is
 * redeemed on the token process, and no log line carries a one-time code, a code or a token.
 */
describe('challenge and token as separate processes', () => {
  let env: SuiteEnv;
  let smtp: SmtpSink;
  let token: AppProcess;
  let challenge: AppProcess;

  beforeAll(async () => {
    smtp = await startSmtpSink();
    env = await createSuiteEnv('challengesplit', { SMTP_URL: '', LOG_LEVEL: 'debug', CHALLENGE_RESEND_SECONDS: '0' });
    const tokenPort = await freePort();
    const issuer = `http://127.0.0.1:${tokenPort}`;
    const shared = { ...env.env, SMTP_URL: smtp.url, ISSUER: issuer };
    token = await spawnApp('token', shared, { port: tokenPort, issuer });
    challenge = await spawnApp('challenge', { ...shared, MIGRATIONS_RUN: 'false' }, { issuer });
    const created = await runCli(['client', 'create', JSON.stringify(APP)], shared);
    if (created.code !== 0) throw new Error(`client create exited ${created.code}:\n${created.output}`);
  });
  afterAll(async () => {
    await challenge?.stop();
    await token?.stop();
    await smtp?.close();
    await env?.dispose();
  });

  it('runs the email challenge on the challenge process and redeems the code on the token process; the logs stay clean', async () => {
    // Requests go to each process; DPoP htu values name the shared issuer (the ingress URL).
    const c = await ChallengeClient.create(token.url);
    c.baseUrl = challenge.url;
    const first = await c.send({ client_id: APP.client_id, response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256', login_hint: 'split@example.com' });
    expect(first.status).toBe(403);
    expect(first.body).toMatchObject({ error: 'insufficient_authorization', status: 'code_sent' });
    const otp = await smtp.code('split@example.com');
    const done = await c.send({ code: otp });
    expect(done.status).toBe(200);
    const code = done.body.authorization_code as string;

    c.baseUrl = token.url;
    const tokens = await c.redeem(code, { client_id: APP.client_id });
    expect(tokens.status).toBe(200);
    const at = tokens.body.access_token as string;
    expect(decodeJwtUnverified(at).payload).toMatchObject({ email_verified: true, auth_session: c.authSession });

    await new Promise((r) => setTimeout(r, 300));
    const logs = challenge.output() + token.output();
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of [otp, code, at, tokens.body.refresh_token as string, c.authSession!]) expect(logs).not.toContain(secret);
    // The logs are JSON lines with request ids.
    const requestLines = logs.split('\n').filter((l) => l.includes('"req"'));
    expect(requestLines.length).toBeGreaterThan(0);
    for (const l of requestLines) expect((JSON.parse(l) as { req: { id?: string } }).req.id).toEqual(expect.any(String));
  });
});
