import { decodeJwtUnverified, generateClientKeyPair } from '@fpa/crypto';
import { ChallengeClient } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { expectOAuthError, postForm, type FormResponse } from '../support/http';
import { accounts, authorizationDetailsFile, balances, basic, createParClients, dpopPoster, NATIVE, payment, pushedCount, RS } from '../support/par';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

/**
 * A first-party native app (no redirect URI) pushes its request to /par with a DPoP proof and
 * consumes the request_uri at /authorize-challenge (PAR-10, FIPA-22); authorization details
 * travel from the pushed — or the native — request through the code to the tokens (RAR-6/7).
 */
describe('PAR consumed at the native endpoint, and RAR there (standalone, PostgreSQL + Redis)', () => {
  let suite: RunningApp;
  let smtp: SmtpSink;
  let secrets: Record<string, string>;
  let withProof: ReturnType<typeof dpopPoster>;
  let n = 0;

  beforeAll(async () => {
    smtp = await startSmtpSink();
    suite = await startStandalone('parnative', { SMTP_URL: smtp.url, CHALLENGE_RESEND_SECONDS: '0', AUTHORIZATION_DETAILS_FILE: authorizationDetailsFile() });
    secrets = await createParClients(suite);
    withProof = dpopPoster(suite);
  });
  afterAll(async () => {
    await suite?.close();
    await smtp?.close();
  });

  const introspect = async (token: string): Promise<Record<string, unknown>> => (await postForm(`${suite.issuer}/introspect`, { token }, { authorization: basic(RS.client_id, secrets[RS.client_id]) })).body;
  /** The native app's authorization request (no redirect_uri: it has none), pushed with a proof by the app's key. */
  const nativeRequest = (c: ChallengeClient, email: string, extra: Record<string, string> = {}): Record<string, string> => ({
    client_id: NATIVE.client_id,
    response_type: 'code',
    code_challenge: c.codeChallenge,
    code_challenge_method: 'S256',
    scope: 'openid',
    login_hint: email,
    ...extra,
  });
  const push = (c: ChallengeClient, form: Record<string, string>): Promise<FormResponse> => withProof('/par', form, c.key);

  /** Email OTP at the native endpoint from a first answer that sent the code, to the authorization code. */
  async function codeFrom(c: ChallengeClient, first: FormResponse, email: string): Promise<string> {
    expect({ status: first.status, error: first.body.error }).toEqual({ status: 403, error: 'insufficient_authorization' });
    const done = await c.send({ code: await smtp.code(email) });
    expect(done.status).toBe(200);
    return done.body.authorization_code as string;
  }

  it('PAR-9 / PAR-10 / RAR-6/7: a push without redirect_uri, consumed with client_id + request_uri and the same DPoP key; the details reach the code, the tokens and introspection', async () => {
    const c = await ChallengeClient.create(suite.issuer);
    const email = `native-${++n}@example.com`;
    const pushed = await push(c, nativeRequest(c, email, { authorization_details: JSON.stringify([balances, accounts]) }));
    expect(pushed.status).toBe(201);
    const requestUri = pushed.body.request_uri as string;

    const code = await codeFrom(c, await c.send({ client_id: NATIVE.client_id, request_uri: requestUri }), email);
    // RAR-5 at the code exchange, as for a browser code.
    expectOAuthError(await c.redeem(code, { client_id: NATIVE.client_id }, { authorization_details: JSON.stringify([{ type: 'account_information', actions: ['read_transactions'] }]) }), 400, 'invalid_authorization_details');
    const tokens = await c.redeem(code, { client_id: NATIVE.client_id }, { authorization_details: JSON.stringify([accounts]) });
    expect(tokens.status).toBe(200);
    expect(tokens.body).toMatchObject({ token_type: 'DPoP', authorization_details: [accounts] });
    expect(decodeJwtUnverified(tokens.body.access_token as string).payload).toMatchObject({ cnf: { jkt: c.key.jkt }, authorization_details: [accounts] });
    expect(await introspect(tokens.body.access_token as string)).toMatchObject({ active: true, authorization_details: [accounts] });

    // PAR-10: used once.
    const again = await ChallengeClient.create(suite.issuer, undefined, c.key);
    expectOAuthError(await again.send({ client_id: NATIVE.client_id, request_uri: requestUri }), 400, 'invalid_request');
  });

  it('DPOP-31 / FIPA-33: a request pushed with one DPoP key is refused at the native endpoint with another, and not burned', async () => {
    const c = await ChallengeClient.create(suite.issuer);
    const email = `native-${++n}@example.com`;
    const requestUri = (await push(c, nativeRequest(c, email))).body.request_uri as string;
    const stranger = await ChallengeClient.create(suite.issuer, undefined, await generateClientKeyPair());
    const refused = await stranger.send({ client_id: NATIVE.client_id, request_uri: requestUri });
    expect({ status: refused.status, error: refused.body.error }).toEqual({ status: 400, error: 'invalid_dpop_proof' });
    // The app with the key it was pushed with still can.
    const code = await codeFrom(c, await c.send({ client_id: NATIVE.client_id, request_uri: requestUri }), email);
    expect((await c.redeem(code, { client_id: NATIVE.client_id })).status).toBe(200);
  });

  it('PAR-9: a client without redirect URIs cannot push one; the refusal stores nothing', async () => {
    const c = await ChallengeClient.create(suite.issuer);
    const before = await pushedCount(suite);
    expectOAuthError(await push(c, nativeRequest(c, 'x@example.com', { redirect_uri: 'https://app.example.com/cb' })), 400, 'invalid_request');
    expectOAuthError(await push(c, nativeRequest(c, 'x@example.com', { authorization_details: JSON.stringify([payment()]) })), 400, 'invalid_authorization_details');
    expect(await pushedCount(suite)).toBe(before);
  });

  it('FIPA-8 / RAR-3: authorization_details sent to /authorize-challenge directly flow into the code and the tokens; a type the client may not use is refused', async () => {
    const c = await ChallengeClient.create(suite.issuer);
    const email = `native-${++n}@example.com`;
    const base = { client_id: NATIVE.client_id, response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256', login_hint: email };
    expectOAuthError(await c.send({ ...base, authorization_details: JSON.stringify([payment()]) }), 400, 'invalid_authorization_details');
    const fresh = await ChallengeClient.create(suite.issuer, undefined, undefined, { verifier: c.verifier });
    const code = await codeFrom(fresh, await fresh.send({ ...base, authorization_details: JSON.stringify([balances]) }), email);
    const tokens = await fresh.redeem(code, { client_id: NATIVE.client_id });
    expect(tokens.body.authorization_details).toEqual([balances]);
    expect(decodeJwtUnverified(tokens.body.access_token as string).payload.authorization_details).toEqual([balances]);
    // DPOP-18: the native app's refresh token is bound to its key and keeps the details.
    const refreshed = await withProof('/token', { grant_type: 'refresh_token', client_id: NATIVE.client_id, refresh_token: tokens.body.refresh_token as string }, fresh.key);
    expect(refreshed.body.authorization_details).toEqual([balances]);
  });
});
