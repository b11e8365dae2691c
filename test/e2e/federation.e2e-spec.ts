import { DataSource } from 'typeorm';
import { decodeJwtUnverified, generateClientKeyPair } from '@fpa/crypto';
import { IDENTITY_LINKS, type IdentityLinks } from '@fpa/federation';
import { ChallengeClient, freePort, type FormResponse } from '@fpa/testing';
import { startApp, type RunningApp } from '@fpa/testing/app';
import { Browser } from '../support/form-browser';
import { downstreamsFile, embedded, federatingApp, postCallback } from '../support/federation';
import { expectNoStore } from '../support/http';
import { OpenApiWire } from '../support/openapi';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

const AS1_REDIRECT = 'http://127.0.0.1/as1-federation-cb';

/**
 * Issue 10, the federating side, with two suites in one process (two issuers, two databases, two
 * Redis prefixes, real HTTP): AS1's routing policy asks (`insufficient_information`, FED-6/7) and
 * federates (`federate`, FED-5/10/11) to AS2, where AS1 is a confidential private_key_jwt client
 * whose keys AS2 fetches from AS1's /federation/jwks. Until AS2's native endpoint accepts a
 * confidential client's `client_id` + `request_uri` (the downstream-side branch), the AS2 leg runs
 * through AS2's browser endpoint with the same request_uri; its code is posted to AS1's
 * response_uri (FED-12) and AS1's own code redeemed for a token of the linked user, `amr` with `fed`.
 */
describe('federation, federating side (AS1 → AS2, two suites)', () => {
  let as1: RunningApp;
  let as2: RunningApp;
  let smtp: SmtpSink;
  let downPort: number;
  let n = 0;

  beforeAll(async () => {
    smtp = await startSmtpSink();
    as2 = await startApp({ label: 'fed_as2', overrides: { ...embedded(), SMTP_URL: smtp.url, CHALLENGE_RESEND_SECONDS: '0' } });
    downPort = await freePort();
    const file = downstreamsFile([
      { issuer: as2.issuer, client_id: 'as1', scope: 'openid', redirect_uri: AS1_REDIRECT, trust: { amr: ['otp'], acr: {} } },
      { issuer: `http://127.0.0.1:${downPort}`, client_id: 'as1' },
    ]);
    as1 = await startApp({ label: 'fed_as1', overrides: { ...embedded(), SMTP_URL: smtp.url, FEDERATION_DOWNSTREAMS_FILE: file, FEDERATION_HTTP_TIMEOUT_MS: '1000' } });
    await as1.createClient(federatingApp(as2.issuer, { noNative: 'https://no-native.example', down: `http://127.0.0.1:${downPort}`, flaky: 'https://flaky.example' }));
    // AS1 at AS2: a confidential client that is not first-party, authenticating with private_key_jwt (FED-11).
    await as2.createClient({
      client_id: 'as1',
      name: 'Federating suite',
      type: 'confidential',
      auth_methods: ['private_key_jwt'],
      grant_types: ['authorization_code'],
      scopes: ['openid'],
      redirect_uris: [AS1_REDIRECT],
      native_callback_uris: ['https://app.example/fed-cb'],
      jwks_uri: `${as1.issuer}/federation/jwks`,
    });
  });
  afterAll(async () => {
    await as1?.close();
    await as2?.close();
    await smtp?.close();
  });

  /** A new native flow of AS1's first-party app. */
  async function startFlow(): Promise<{ app: ChallengeClient; res: FormResponse }> {
    const app = await ChallengeClient.create(as1.issuer);
    const res = await app.send({ client_id: 'fed-app', response_type: 'code', code_challenge: app.codeChallenge, code_challenge_method: 'S256', scope: 'openid' });
    return { app, res };
  }

  /** FED-7: whatever a prompt holds, its free-text inputs are e-mail and phone only. */
  function expectOnlyEmailOrPhone(res: FormResponse): void {
    const prompt = res.body.userPrompt as { inputs?: Record<string, unknown> } | undefined;
    for (const key of Object.keys(prompt?.inputs ?? {})) expect(['email', 'phone']).toContain(key);
  }

  /** The AS2 leg in a browser: its login with e-mail OTP and the consent page, then the code AS2 issued to AS1. */
  async function downstreamCode(federationBody: string, email: string): Promise<string> {
    const params = Object.fromEntries(new URLSearchParams(federationBody));
    const browser = new Browser(as2.issuer);
    const page = await browser.authorize(params);
    expect(page.status).toBe(200);
    const { redirect } = await browser.signIn(email, smtp);
    expect(`${redirect.origin}${redirect.pathname}`).toBe(AS1_REDIRECT);
    expect(redirect.searchParams.get('iss')).toBe(as2.issuer);
    return redirect.searchParams.get('code') as string;
  }

  async function federated(app: ChallengeClient, answer: Record<string, string>): Promise<FormResponse> {
    const res = await app.send(answer);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('federate');
    return res;
  }

  it('FED-6: the first request is answered with insufficient_information: the bank select list and the logo, no free text', async () => {
    const { res } = await startFlow();
    expect(res.status).toBe(400);
    expectNoStore(res);
    expect(res.body).toMatchObject({ error: 'insufficient_information', auth_session: expect.any(String), logo: 'https://logos.example/suite.png' });
    const prompt = res.body.userPrompt as Record<string, Record<string, Record<string, unknown>>>;
    expect(prompt.options.bank).toMatchObject({ title: 'Your bank', description: 'Where you sign in', values: { 'bank-b': { name: 'Bank B', logo: 'https://logos.example/b.png' } } });
    expect(prompt.inputs).toBeUndefined();
  });

  it('FED-5/10/11/12: bank B → federate to AS2 (PAR there); AS2’s code at AS1’s response_uri → AS1’s code → a token of the linked user with amr fed', async () => {
    const { app } = await startFlow();
    const fed = await federated(app, { bank: 'bank-b' });
    expectNoStore(fed);
    expect(fed.body).toMatchObject({ auth_session: app.authSession, federation_uri: `${as2.issuer}/authorize-challenge`, response_uri: `${as1.issuer}/federation/callback` });
    const body = new URLSearchParams(fed.body.federation_body as string);
    expect(body.get('client_id')).toBe('as1');
    expect(body.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    // Asked again while it is open: the same federation, no second PAR.
    expect((await app.send({})).body.federation_body).toBe(fed.body.federation_body);

    const code = await downstreamCode(fed.body.federation_body as string, `alice${++n}@bank-b.example`);
    const done = await postCallback(as1.issuer, app, { auth_session: app.authSession as string, authorization_code: code });
    expect(done.status).toBe(200);
    expectNoStore(done);
    expect(done.body).toEqual({ authorization_code: expect.any(String), auth_session: app.authSession });

    const token = await app.redeem(done.body.authorization_code as string, { client_id: 'fed-app' });
    expect(token.status).toBe(200);
    const claims = decodeJwtUnverified(token.body.access_token as string).payload;
    expect(claims.amr).toEqual(expect.arrayContaining(['fed']));
    // The linked local user: (AS2 issuer, AS2's subject) → claims.sub.
    const rows = (await as1.get(DataSource).query(`SELECT subject, user_id FROM federated_identities WHERE issuer = $1`, [as2.issuer])) as { subject: string; user_id: string }[];
    expect(rows.map((r) => r.user_id)).toContain(claims.sub);

    // The answers as the suite's OpenAPI document describes them (libs/interaction routing DTOs, libs/federation fragment).
    const wire = new OpenApiWire((await (await fetch(`${as1.issuer}/openapi.json`)).json()) as ConstructorParameters<typeof OpenApiWire>[0]);
    const judged = (path: string, res: FormResponse) => wire.problems({ method: 'POST', url: `${as1.issuer}${path}`, status: res.status, headers: res.headers, body: res.text });
    expect([...judged('/authorize-challenge', fed), ...judged('/federation/callback', done)]).toEqual([]);

    // FED-12 [INF]: accepted once — the same code again finds nothing waiting.
    const again = await postCallback(as1.issuer, app, { auth_session: app.authSession as string, authorization_code: code });
    expect(again.status).toBe(400);
    expect(['invalid_session', 'invalid_request']).toContain(again.body.error);
  });

  it('a user who comes back through the same downstream is the same local user', async () => {
    const email = `returning${++n}@bank-b.example`;
    const subs: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      const { app } = await startFlow();
      const fed = await federated(app, { bank: 'bank-b' });
      const done = await postCallback(as1.issuer, app, { auth_session: app.authSession as string, authorization_code: await downstreamCode(fed.body.federation_body as string, email) });
      expect(done.status).toBe(200);
      const token = await app.redeem(done.body.authorization_code as string, { client_id: 'fed-app' });
      subs.push(decodeJwtUnverified(token.body.access_token as string).payload.sub);
    }
    expect(subs[0]).toBe(subs[1]);
  });

  it('FED-12: the callback answers what local policy still needs — acr mfa after a one-factor downstream login is 403 insufficient_authorization', async () => {
    const app = await ChallengeClient.create(as1.issuer);
    await app.send({ client_id: 'fed-app', response_type: 'code', code_challenge: app.codeChallenge, code_challenge_method: 'S256', scope: 'openid', acr_values: 'urn:first-party-auth:acr:mfa' });
    const fed = await federated(app, { bank: 'bank-b' });
    const more = await postCallback(as1.issuer, app, { auth_session: app.authSession as string, authorization_code: await downstreamCode(fed.body.federation_body as string, `jay${++n}@bank-b.example`) });
    expect(more.status).toBe(403);
    expect(more.body).toMatchObject({ error: 'insufficient_authorization', auth_session: app.authSession });
  });

  it('FED-3: the app’s native_callback_uri is forwarded in the PAR (the downstream checks it against our registration there)', async () => {
    const start = async (uri: string) => {
      const app = await ChallengeClient.create(as1.issuer);
      await app.send({ client_id: 'fed-app', response_type: 'code', code_challenge: app.codeChallenge, code_challenge_method: 'S256', scope: 'openid', native_callback_uri: uri });
      return app.send({ bank: 'bank-b' });
    };
    expect((await start('https://app.example/fed-cb')).body.error).toBe('federate');
    // Allowed here, not registered for us at AS2: AS2 refuses the pushed request — so it was sent there.
    const refused = await start('https://app.example/not-at-downstream');
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: 'access_denied', error_description: expect.stringContaining('invalid_request') });
  });

  it('FED-6 second round: "another bank" asks for the e-mail (free text email only); its domain routes to AS2', async () => {
    const { app, res } = await startFlow();
    expectOnlyEmailOrPhone(res);
    const second = await app.send({ bank: 'other' });
    expect(second.status).toBe(400);
    expect(second.body.error).toBe('insufficient_information');
    expect(second.body.userPrompt).toEqual({ inputs: { email: { title: 'Your e-mail', hint: 'name@bank.example' } } });
    expectOnlyEmailOrPhone(second);
    const fed = await federated(app, { email: `Dora${++n}@Bank-B.example` });
    expect(fed.body.federation_uri).toBe(`${as2.issuer}/authorize-challenge`);
  });

  it('routing locally: "this app" goes on to the challenge methods; an e-mail of another domain too (the catch-all route)', async () => {
    const here = await startFlow();
    const local = await here.app.send({ bank: 'here' });
    expect(local.status).toBe(403);
    expect(local.body.error).toBe('insufficient_authorization');
    // Decided: the next request is not routed again.
    expect((await here.app.send({ bank: 'bank-b' })).body.error).toBe('insufficient_authorization');

    const other = await startFlow();
    await other.app.send({ bank: 'other' });
    const otp = await other.app.send({ email: `erin${++n}@elsewhere.example` });
    expect(otp.status).toBe(403);
    expect(otp.body).toMatchObject({ error: 'insufficient_authorization', challenge_type: 'email_otp', status: 'code_sent' });
  });

  it('answers that are not offered are refused (invalid_request) and change nothing', async () => {
    const { app } = await startFlow();
    expect((await app.send({ bank: 'bank-z' })).body.error).toBe('invalid_request');
    expect((await app.send({ bank: 'other' })).body.error).toBe('insufficient_information');
    expect((await app.send({ email: 'not an address' })).body.error).toBe('invalid_request');
    expect((await app.send({ email: `fay${++n}@bank-b.example` })).body.error).toBe('federate');
  });

  it('a downstream that is unreachable: 503 temporarily_unavailable, the flow still answers (another choice federates)', async () => {
    const { app } = await startFlow();
    const down = await app.send({ bank: 'down' });
    expect(down.status).toBe(503);
    expect(down.body.error).toBe('temporarily_unavailable');
    expectNoStore(down);
    expect((await app.send({ bank: 'bank-b' })).body.error).toBe('federate');
  });

  describe('refusals at /federation/callback store nothing: the federation stays resumable', () => {
    it('another session’s auth_session, or another DPoP key: invalid_session', async () => {
      const { app } = await startFlow();
      const fed = await federated(app, { bank: 'bank-b' });
      const stranger = await startFlow();
      const code = await downstreamCode(fed.body.federation_body as string, `gus${++n}@bank-b.example`);

      const otherKey = await postCallback(as1.issuer, app, { auth_session: app.authSession as string, authorization_code: code }, await generateClientKeyPair());
      expect(otherKey.status).toBe(400);
      expect(otherKey.body.error).toBe('invalid_session');
      const otherSession = await postCallback(as1.issuer, stranger.app, { auth_session: app.authSession as string, authorization_code: code });
      expect(otherSession.body.error).toBe('invalid_session');
      const noProof = await fetch(`${as1.issuer}/federation/callback`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ auth_session: app.authSession as string, authorization_code: code }) });
      expect(noProof.status).toBe(400);

      // Nothing was spent: the rightful post completes.
      const done = await postCallback(as1.issuer, app, { auth_session: app.authSession as string, authorization_code: code });
      expect(done.status).toBe(200);
    });

    it('a code of another federation is refused by the downstream (PKCE): a FiPA error, and this federation completes after', async () => {
      const a = await startFlow();
      const fedA = await federated(a.app, { bank: 'bank-b' });
      const b = await startFlow();
      const fedB = await federated(b.app, { bank: 'bank-b' });
      const codeB = await downstreamCode(fedB.body.federation_body as string, `hal${++n}@bank-b.example`);
      const wrong = await postCallback(as1.issuer, a.app, { auth_session: a.app.authSession as string, authorization_code: codeB });
      expect(wrong.status).toBe(400);
      expect(wrong.body.error).toBe('invalid_grant');
      expect(wrong.body.auth_session).toBe(a.app.authSession);

      const codeA = await downstreamCode(fedA.body.federation_body as string, `ida${++n}@bank-b.example`);
      expect((await postCallback(as1.issuer, a.app, { auth_session: a.app.authSession as string, authorization_code: codeA })).status).toBe(200);
    });

    it('a forwarded downstream error ends the federation with a clear FiPA error (never a 500)', async () => {
      const { app } = await startFlow();
      await federated(app, { bank: 'bank-b' });
      const denied = await postCallback(as1.issuer, app, { auth_session: app.authSession as string, error: 'access_denied' });
      expect(denied.status).toBe(400);
      expect(denied.body).toMatchObject({ error: 'access_denied', downstream_error: 'access_denied', auth_session: app.authSession });
      const garbage = await postCallback(as1.issuer, app, { auth_session: app.authSession as string, authorization_code: 'x' });
      expect(garbage.status).toBe(400);
    });
  });

  it('linking is race-safe: concurrent first logins of one downstream subject make one local user', async () => {
    const links = as1.get<IdentityLinks>(IDENTITY_LINKS);
    const subject = `race-${++n}`;
    const results = await Promise.all(Array.from({ length: 6 }, () => links.link('https://race.example', subject, new Date())));
    expect(new Set(results.map((r) => r.userId)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const users = await as1.env.db.query<{ n: string }>(`SELECT count(*) AS n FROM users u WHERE NOT EXISTS (SELECT 1 FROM federated_identities f WHERE f.user_id = u.id) AND u.email IS NULL AND u.phone IS NULL`);
    expect(Number(users[0].n)).toBe(0);
  });

  it('metrics and audit: federations started and completed by downstream', async () => {
    const metrics = await (await fetch(`${as1.issuer}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`fpa_federation_total\\{downstream="${as2.issuer}",outcome="completed"\\} [1-9]`));
    expect(metrics).toMatch(new RegExp(`fpa_federation_total\\{downstream="${as2.issuer}",outcome="started"\\} [1-9]`));
    expect(metrics).toMatch(/fpa_federation_routing_total\{decision="ask"\} [1-9]/);
    const types = async () => (await as1.env.db.query<{ event_type: string }>(`SELECT DISTINCT event_type FROM audit_events WHERE event_type LIKE 'federation.%'`)).map((r) => r.event_type);
    for (let i = 0; i < 30 && (await types()).length < 4; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await types()).sort()).toEqual(['federation.completed', 'federation.failed', 'federation.identity_linked', 'federation.started']);
  });

  it('GET /federation/jwks publishes one public assertion key (no private members)', async () => {
    const res = await fetch(`${as1.issuer}/federation/jwks`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { keys: Record<string, unknown>[] };
    expect(body.keys).toHaveLength(1);
    expect(body.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(body.keys[0]).not.toHaveProperty('d');
  });
});
