import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { FirstPartyClient } from '@fpa/client-sdk';
import { decodeJwtUnverified, randomToken } from '@fpa/crypto';
import { ChallengeClient, DEVICE_CLIENT } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { expectNoStore, type FormResponse } from '../support/http';
import { startSmtpSink, type SmtpSink } from '../support/smtp';
import { androidOrigin, SoftwareAuthenticator } from '../support/webauthn';

const APP = { ...DEVICE_CLIENT, client_id: 'first-party-app', grant_types: ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code'] };
const PHR = 'urn:first-party-auth:acr:phr';


/** The first request of a public client's flow (FIPA-10): PKCE, DPoP, and whatever else the test adds. */
function start(c: ChallengeClient, extra: Record<string, string> = {}): Promise<FormResponse> {
  return c.send({ client_id: APP.client_id, response_type: 'code', scope: 'openid api.read', code_challenge: c.codeChallenge, code_challenge_method: 'S256', ...extra });
}

const creationOptions = (res: FormResponse): PublicKeyCredentialCreationOptionsJSON => res.body.public_key_credential_creation_options as PublicKeyCredentialCreationOptionsJSON;
const requestOptions = (res: FormResponse): PublicKeyCredentialRequestOptionsJSON => res.body.public_key_credential_request_options as PublicKeyCredentialRequestOptionsJSON;

/** Every refusal: its status and code, never cached (CONTRACT §2). */
function expectError(res: FormResponse, status: number, error: string): void {
  expect({ status: res.status, error: res.body.error }).toEqual({ status, error });
  expectNoStore(res);
  expect(res.body).not.toHaveProperty('authorization_code');
}

/** Email OTP (the user's first proof) in an open flow: begin, read the code from SMTP, answer. */
async function verifyEmail(c: ChallengeClient, smtp: SmtpSink, email: string): Promise<FormResponse> {
  const sent = await c.send({ challenge_type: 'email_otp', email });
  expect(sent.body).toMatchObject({ error: 'insufficient_authorization', challenge_type: 'email_otp', status: 'code_sent' });
  return c.send({ code: await smtp.code(email) });
}

/**
 * Passkeys at the authorization challenge endpoint (FiPA -04 §5, CONTRACT §5, WebAuthn L3) with a
 * software authenticator, on real PostgreSQL, Redis and SMTP: enrolment after an email proof,
 * a later sign-in by assertion alone, acr phr, a resource server's step-up, and the refusals.
 */
describe('authorization challenge: passkeys (standalone, PostgreSQL + Redis)', () => {
  let suite: RunningApp;
  let smtp: SmtpSink;
  /** Alice's phone: registered in the first test, used by the later ones. */
  let alice: SoftwareAuthenticator;
  let aliceId: string;

  beforeAll(async () => {
    smtp = await startSmtpSink();
    suite = await startStandalone('challengepasskey', { SMTP_URL: smtp.url, CHALLENGE_RESEND_SECONDS: '0' });
    await suite.createClient(APP);
    // Default WebAuthn config: RP ID = the issuer's host, origin = the issuer's origin.
    // A device-bound passkey (no BE flag): RFC 8176 `hwk`. Synced ones (`swk`) are tested below.
    alice = new SoftwareAuthenticator({ rpId: new URL(suite.issuer).hostname, origin: new URL(suite.issuer).origin, backedUp: false });
  });
  afterAll(async () => {
    await suite?.close();
    await smtp?.close();
  });

  it('acr phr: e-mail alone yields no code; a passkey enrolled on the strength of e-mail does not reach phr in the same flow (finding 1), a later request does', async () => {
    const c = await ChallengeClient.create(suite.issuer);
    const first = await start(c, { acr_values: PHR, login_hint: 'alice@example.com' });
    expectError(first, 403, 'insufficient_authorization');
    expect(first.body).toMatchObject({ status: 'method_required', methods: ['passkey'] });

    // The email proves the address (and creates the user) but does not satisfy phr.
    const emailed = await verifyEmail(c, smtp, 'alice@example.com');
    expectError(emailed, 403, 'insufficient_authorization');
    expect(emailed.body).toMatchObject({ status: 'additional_method_required', completed: 'email_otp', auth_session: c.authSession });
    expect(emailed.body.methods).toContain('passkey');

    const reg = await c.send({ challenge_type: 'passkey', action: 'register' });
    expectError(reg, 403, 'insufficient_authorization');
    expect(reg.body).toMatchObject({ challenge_type: 'passkey', status: 'registration_required', expires_in: 300 });
    const options = creationOptions(reg);
    const [user] = await suite.env.db.query<{ id: string }>('SELECT id FROM users WHERE email = $1', ['alice@example.com']);
    aliceId = user.id;
    expect(options).toMatchObject({
      rp: { id: '127.0.0.1', name: 'first-party-auth' },
      user: { id: Buffer.from(aliceId).toString('base64url'), name: 'alice@example.com' },
      attestation: 'none',
      authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
      excludeCredentials: [],
    });

    // The attestation as a JSON object in a JSON body. The passkey is stored, provisional: it was
    // enrolled on an e-mail code, so in this flow it proves nothing the e-mail did not — no method
    // here can reach phr, and the app is told so by an empty `methods`, not sent to the browser.
    const enrolled = await c.sendJson({ credential: alice.register(options) });
    expectError(enrolled, 403, 'insufficient_authorization');
    expect(enrolled.body).toMatchObject({ status: 'enrolled', completed: 'passkey', provisional: true, methods: [] });
    const [stored] = await suite.env.db.query<{ provisional: boolean; enrolled_by: string; basis_rank: number }>('SELECT provisional, enrolled_by, basis_rank FROM user_credentials WHERE credential_id = $1', [alice.id]);
    expect(stored).toEqual({ provisional: true, enrolled_by: 'authentication', basis_rank: 1 });

    // The climb of finding 1: assert with it in the same flow. Recorded, not counted: no code.
    const prompt = await c.send({ challenge_type: 'passkey' });
    expect(prompt.body).toMatchObject({ status: 'assertion_required' });
    expect(requestOptions(prompt).allowCredentials?.map((x) => x.id)).toEqual([alice.id]);
    const climbed = await c.sendJson({ credential: alice.assert(requestOptions(prompt)) });
    expect(climbed.status).toBe(403);
    expect(climbed.body).not.toHaveProperty('authorization_code');
    const events = await suite.env.db.query<{ counted: boolean }>("SELECT counted FROM user_authentications WHERE auth_session = $1 AND method = 'passkey'", [c.authSession]);
    expect(events).toEqual([{ counted: false }]);

    // A later, separate authorization request (same session, new PKCE): now the passkey counts,
    // and the token says exactly what satisfied phr — the passkey, not the e-mail code.
    c.verifier = randomToken(32);
    const again = await c.send({ acr_values: PHR, challenge_type: 'passkey', code_challenge: c.codeChallenge, code_challenge_method: 'S256' });
    expect(again.body).toMatchObject({ status: 'assertion_required', auth_session: c.authSession });
    const done = await c.sendJson({ credential: alice.assert(requestOptions(again)) });
    expect(done.status).toBe(200);
    expectNoStore(done);
    expect(done.body).toEqual({ authorization_code: expect.any(String), auth_session: c.authSession });
    const tokens = await c.redeem(done.body.authorization_code as string, { client_id: APP.client_id });
    expect(tokens.status).toBe(200);
    const at = decodeJwtUnverified(tokens.body.access_token as string).payload;
    expect(at).toMatchObject({ sub: aliceId, acr: PHR, auth_session: c.authSession, cnf: { jkt: c.key.jkt } });
    expect(at.amr).toEqual(['hwk', 'user', 'mfa']);
    const [promoted] = await suite.env.db.query<{ provisional: boolean }>('SELECT provisional FROM user_credentials WHERE credential_id = $1', [alice.id]);
    expect(promoted.provisional).toBe(false);

    const creds = await suite.env.db.query<{ user_id: string; credential_id: string; public_data: Record<string, unknown> }>(
      'SELECT user_id, credential_id, public_data FROM user_credentials WHERE method = $1',
      ['passkey'],
    );
    expect(creds).toEqual([
      { user_id: aliceId, credential_id: alice.id, public_data: { publicKey: alice.cosePublicKey().toString('base64url'), transports: ['internal', 'hybrid'], aaguid: '00000000-0000-0000-0000-000000000000', backupEligible: false } },
    ]);
  });

  it('later, a new session without login_hint: the assertion alone signs the same user in (JSON body, then a form body)', async () => {
    for (const body of ['json', 'form'] as const) {
      const c = await ChallengeClient.create(suite.issuer);
      const prompt = await start(c, { challenge_type: 'passkey' });
      expectError(prompt, 403, 'insufficient_authorization');
      expect(prompt.body).toMatchObject({ challenge_type: 'passkey', status: 'assertion_required', expires_in: 300 });
      const options = requestOptions(prompt);
      // Discoverable: nobody is known yet, so no credential is named.
      expect(options).toMatchObject({ rpId: '127.0.0.1', userVerification: 'preferred' });
      expect(options.allowCredentials ?? []).toEqual([]);

      const assertion = alice.assert(options);
      const done = body === 'json' ? await c.sendJson({ credential: assertion }) : await c.send({ credential: JSON.stringify(assertion) });
      expect(done.status).toBe(200);
      expectNoStore(done);
      const tokens = await c.redeem(done.body.authorization_code as string, { client_id: APP.client_id });
      expect(tokens.status).toBe(200);
      const at = decodeJwtUnverified(tokens.body.access_token as string).payload;
      expect(at).toMatchObject({ sub: aliceId, acr: 'urn:first-party-auth:acr:1fa' });
      expect(at.amr).toEqual(expect.arrayContaining(['hwk', 'user', 'mfa']));
      expect(at.amr).not.toContain('otp');
    }
    // The sign count moved forward with each use (WebAuthn §6.1.1).
    const [row] = await suite.env.db.query<{ counter: string }>('SELECT counter FROM user_credentials WHERE credential_id = $1', [alice.id]);
    expect(Number(row.counter)).toBe(alice.signCount);
  });

  it('the sample API needs acr phr: a device token without a passkey gets 403; after a passkey step-up via the device way in, 200', async () => {
    const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: APP.client_id });
    const reg = await device.register();
    await device.requestToken();
    const anonymous = await device.fetchResource(`${suite.issuer}/api/payments`);
    expect(anonymous.status).toBe(403);
    expect(anonymous.headers.get('cache-control')).toBe('no-store');
    expect(await anonymous.json()).toMatchObject({ error: 'insufficient_user_authentication', missing: ['acr'] });

    // The user proves their email on the device: a user-bound token, still without hwk.
    const byEmail = await ChallengeClient.create(suite.issuer, device.accessToken, device.dpopKey);
    const sent = await byEmail.send({ response_type: 'code', email: 'alice@example.com', code_challenge: byEmail.codeChallenge, code_challenge_method: 'S256' });
    expect(sent.body).toMatchObject({ error: 'insufficient_authorization', status: 'code_sent', auth_session: reg.auth_session });
    const emailed = await byEmail.send({ code: await smtp.code('alice@example.com') });
    expect(emailed.status).toBe(200);
    await device.requestToken();
    expect(decodeJwtUnverified(device.accessToken!).payload).toMatchObject({ sub: aliceId, email_verified: true });
    const denied = await device.fetchResource(`${suite.issuer}/api/payments`);
    expect(denied.status).toBe(403);
    expect(denied.headers.get('cache-control')).toBe('no-store');
    expect(denied.headers.get('www-authenticate')).toMatch(/^DPoP error="insufficient_user_authentication".*acr_values="urn:first-party-auth:acr:phr"/);
    expect(await denied.json()).toMatchObject({ error: 'insufficient_user_authentication', missing: ['acr'], acr_values: PHR });

    // Step-up with the hinted acr: the session knows Alice, so her passkey is offered.
    const stepUp = await ChallengeClient.create(suite.issuer, device.accessToken, device.dpopKey);
    const prompt = await stepUp.send({ response_type: 'code', acr_values: PHR, challenge_type: 'passkey', code_challenge: stepUp.codeChallenge, code_challenge_method: 'S256' });
    expectError(prompt, 403, 'insufficient_authorization');
    expect(prompt.body).toMatchObject({ status: 'assertion_required', auth_session: reg.auth_session, methods: ['passkey'] });
    expect(requestOptions(prompt).allowCredentials?.map((c) => c.id)).toEqual([alice.id]);
    const done = await stepUp.sendJson({ credential: alice.assert(requestOptions(prompt)) });
    expect(done.status).toBe(200);
    expect(done.body.auth_session).toBe(reg.auth_session);
    const tokens = await stepUp.redeem(
      done.body.authorization_code as string,
      { client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await device.clientAssertion() },
      {},
      device.dpopKey,
    );
    expect(tokens.status).toBe(200);
    expect(decodeJwtUnverified(tokens.body.access_token as string).payload).toMatchObject({ sub: aliceId, acr: PHR, amr: expect.arrayContaining(['hwk']) });

    await device.requestToken();
    const allowed = await device.fetchResource(`${suite.issuer}/api/payments`);
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toMatchObject({ sub: aliceId, amr: expect.arrayContaining(['hwk']) });
  });

  it('registration without a verified user is not possible: 400 invalid_request, nothing stored', async () => {
    const c = await ChallengeClient.create(suite.issuer);
    const res = await start(c, { challenge_type: 'passkey', action: 'register' });
    expectError(res, 400, 'invalid_request');
    expect(res.body).not.toHaveProperty('public_key_credential_creation_options');
    // FIPA-17: the refusal carries the auth_session created by this first request, so the client can go on.
    // Answering an assertion prompt with an attestation does not enrol anything either.
    expect(res.body.auth_session).toEqual(c.authSession);
    const prompt = await start(c, { challenge_type: 'passkey' });
    expect(prompt.body.status).toBe('assertion_required');
    const stranger = new SoftwareAuthenticator({ rpId: '127.0.0.1', origin: new URL(suite.issuer).origin });
    const attestation = stranger.register({
      rp: { id: '127.0.0.1', name: 'x' },
      user: { id: Buffer.from('nobody').toString('base64url'), name: 'nobody', displayName: '' },
      challenge: requestOptions(prompt).challenge,
      pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
    });
    expectError(await c.sendJson({ credential: attestation }), 400, 'invalid_request');
    const creds = await suite.env.db.query('SELECT 1 FROM user_credentials WHERE credential_id = $1', [stranger.id]);
    expect(creds).toEqual([]);
  });

  it('wrong challenge, wrong origin, bad signature, wrong RP ID, unknown or replayed passkey: invalid_code, counted, never 500', async () => {
    const c = await ChallengeClient.create(suite.issuer);
    const prompt = await start(c, { challenge_type: 'passkey' });
    const options = requestOptions(prompt);
    const wrong = [
      alice.assert(options, { challenge: Buffer.from('another challenge').toString('base64url') }),
      alice.assert(options, { origin: 'https://phish.example' }),
      alice.assert(options, { badSignature: true }),
      alice.assert(options, { rpId: 'phish.example' }),
    ];
    for (const [i, credential] of wrong.entries()) {
      const res = await c.sendJson({ credential });
      expectError(res, 403, 'insufficient_authorization');
      expect(res.body).toMatchObject({ challenge_type: 'passkey', status: 'invalid_code', attempts_remaining: 4 - i });
    }
    // A malformed response is a bad request, not a guess: not counted.
    expectError(await c.send({ credential: 'not json' }), 400, 'invalid_request');
    // One attempt left: the right assertion still works.
    const right = alice.assert(options);
    const done = await c.sendJson({ credential: right });
    expect(done.status).toBe(200);

    // The same assertion replayed in another flow signs another challenge: refused.
    const replay = await ChallengeClient.create(suite.issuer);
    const replayPrompt = await start(replay, { challenge_type: 'passkey' });
    const replayed = await replay.sendJson({ credential: right });
    expectError(replayed, 403, 'insufficient_authorization');
    expect(replayed.body).toMatchObject({ status: 'invalid_code', attempts_remaining: 4 });
    // A passkey the server never registered.
    const unknown = new SoftwareAuthenticator({ rpId: '127.0.0.1', origin: new URL(suite.issuer).origin });
    unknown.userHandle = Buffer.from(aliceId).toString('base64url');
    const refused = await replay.sendJson({ credential: unknown.assert(requestOptions(replayPrompt)) });
    expectError(refused, 403, 'insufficient_authorization');
    expect(refused.body).toMatchObject({ status: 'invalid_code', attempts_remaining: 3 });
  });
});

/**
 * An Android app's passkey: its origin is `android:apk-key-hash:<sha256 of the signing cert>`,
 * accepted only because WEBAUTHN_ORIGINS lists it; the RP ID is configured, not the issuer's host.
 */
describe('authorization challenge: passkeys from an Android app (WEBAUTHN_ORIGINS)', () => {
  const RP_ID = 'login.example.com';
  const ANDROID = androidOrigin('first-party-app release key');
  let suite: RunningApp;
  let smtp: SmtpSink;

  beforeAll(async () => {
    smtp = await startSmtpSink();
    suite = await startStandalone('challengepasskeyandroid', {
      SMTP_URL: smtp.url,
      CHALLENGE_RESEND_SECONDS: '0',
      WEBAUTHN_RP_ID: RP_ID,
      WEBAUTHN_RP_NAME: 'Example Login',
      WEBAUTHN_ORIGINS: `https://${RP_ID},${ANDROID}`,
    });
    await suite.createClient(APP);
  });
  afterAll(async () => {
    await suite?.close();
    await smtp?.close();
  });

  it('registers and signs in from the android:apk-key-hash origin; an unlisted origin is refused', async () => {
    const phone = new SoftwareAuthenticator({ rpId: RP_ID, origin: ANDROID });
    const c = await ChallengeClient.create(suite.issuer);
    await start(c, { acr_values: PHR });
    expect((await verifyEmail(c, smtp, 'dana@example.com')).body).toMatchObject({ status: 'additional_method_required' });
    const reg = await c.send({ challenge_type: 'passkey', action: 'register' });
    expect(creationOptions(reg).rp).toEqual({ id: RP_ID, name: 'Example Login' });
    const registered = await c.send({ credential: JSON.stringify(phone.register(creationOptions(reg))) });
    expect(registered.body).toMatchObject({ status: 'enrolled', provisional: true });

    const later = await ChallengeClient.create(suite.issuer);
    const prompt = await start(later, { challenge_type: 'passkey' });
    expect(requestOptions(prompt).rpId).toBe(RP_ID);
    // The issuer's own origin is not in WEBAUTHN_ORIGINS here.
    const web = await later.sendJson({ credential: phone.assert(requestOptions(prompt), { origin: new URL(suite.issuer).origin }) });
    expectError(web, 403, 'insufficient_authorization');
    expect(web.body).toMatchObject({ status: 'invalid_code' });
    const done = await later.sendJson({ credential: phone.assert(requestOptions(prompt)) });
    expect(done.status).toBe(200);
    const tokens = await later.redeem(done.body.authorization_code as string, { client_id: APP.client_id });
    const [dana] = await suite.env.db.query<{ id: string }>('SELECT id FROM users WHERE email = $1', ['dana@example.com']);
    // The test authenticator is a synced passkey (BE flag): a software-secured key, `swk` (RFC 8176).
    expect(decodeJwtUnverified(tokens.body.access_token as string).payload).toMatchObject({ sub: dana.id, amr: expect.arrayContaining(['swk']) });
  });
});
