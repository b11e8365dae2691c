import { FirstPartyClient, OAuthClientError, type AuthorizationChallenge, type SdkEvent } from '@fpa/client-sdk';
import { decodeJwtUnverified } from '@fpa/crypto';
import { ChallengeClient, type FormResponse } from '@fpa/testing';
import { startApp, type RunningApp } from '@fpa/testing/app';
import { DEMO_AS2_APP, DEMO_CALLBACK, federationDemo } from '../../tools/demo/federation-setup';
import { downstreamsFile, embedded, postCallback } from '../support/federation';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

/**
 * Issue 10, the seed 003 example end to end with both roles played by the suite: two suites in one
 * process (two issuers, two databases, two Redis prefixes, real HTTP), configured exactly as the
 * federation demo configures them (tools/demo/federation-setup.ts), driven by the client SDK —
 * client → AS1 `insufficient_information` → `federate` (AS1's authenticated PAR at AS2) → AS2's
 * native endpoint → e-mail OTP at AS2 → AS2's code → AS1's response_uri → AS1's code → AS1's token
 * for the linked user with `amr` containing `fed`; and the `redirect_to_app` variant, where AS2's own
 * app completes the request and the code comes back through `native_callback_uri`.
 */
describe('federation, both roles (AS1 → AS2 native, the seed 003 flow through the SDK)', () => {
  let as1: RunningApp;
  let as2: RunningApp;
  let smtp: SmtpSink;
  let n = 0;

  beforeAll(async () => {
    smtp = await startSmtpSink();
    // AS2 first: AS1's downstream registry names its issuer.
    as2 = await startApp({ label: 'fedflow_as2', overrides: { ...embedded(), SMTP_URL: smtp.url, CHALLENGE_RESEND_SECONDS: '0' } });
    const placeholder = federationDemo('http://127.0.0.1:1', as2.issuer);
    as1 = await startApp({
      label: 'fedflow_as1',
      overrides: { ...embedded(), SMTP_URL: smtp.url, FEDERATION_DOWNSTREAMS_FILE: downstreamsFile(placeholder.as1.files['downstreams.json'] as Record<string, unknown>[]) },
    });
    const setup = federationDemo(as1.issuer, as2.issuer);
    for (const c of setup.as1.files['clients.json'] as Record<string, unknown>[]) await as1.createClient(c);
    for (const c of setup.as2.files['clients.json'] as Record<string, unknown>[]) await as2.createClient(c);
  });
  afterAll(async () => {
    await as1?.close();
    await as2?.close();
    await smtp?.close();
  });

  /** The user at AS2: e-mail OTP (the only method AS2's policy serves AS1's callers, FED-16). */
  const emailAt = (email: string, seen: string[]) => async (challenge: AuthorizationChallenge): Promise<Record<string, string> | undefined> => {
    seen.push(`${challenge.status}:${challenge.methods.join(',')}`);
    if (challenge.status === 'code_sent') return { code: await smtp.code(email) };
    if (challenge.methods.includes('email_otp')) return { challenge_type: 'email_otp', email };
    return undefined;
  };

  it('FED-5/6/11/12/13: the app asks, is federated, signs in at AS2 natively, carries AS2’s code back, and redeems AS1’s own code', async () => {
    const events: SdkEvent[] = [];
    const seen: string[] = [];
    const email = `user${++n}@bank-b.example`;
    const app = await FirstPartyClient.create({ issuer: as1.issuer, clientId: 'fed-app', onEvent: (e) => events.push(e) });
    const asked: string[] = [];
    const result = await app.authorize({
      mode: 'public',
      scope: 'openid',
      onInformation: (request) => {
        asked.push(...Object.keys(request.userPrompt.options ?? {}), ...Object.keys(request.userPrompt.inputs ?? {}));
        expect(request.server).toBe(as1.issuer);
        return Promise.resolve({ bank: 'bank-b' });
      },
      onChallenge: emailAt(email, seen),
    });
    expect(asked).toEqual(['bank']);
    // The challenges were AS2's (the downstream's native endpoint), answered there.
    expect(seen).toEqual(['method_required:email_otp', 'code_sent:email_otp']);
    expect(events.filter((e) => ['federate', 'federation_response'].includes(e.step))).toEqual([
      { step: 'federate', from: as1.issuer, to: as2.issuer },
      { step: 'federation_response', server: as1.issuer, carried: 'authorization_code' },
    ]);
    // AS1's token: AS1 issued it, for AS1's local user linked to AS2's subject, with fed in amr.
    const claims = decodeJwtUnverified(result.tokens.access_token).payload;
    expect(claims.iss).toBe(as1.issuer);
    expect(claims.amr).toEqual(expect.arrayContaining(['fed']));
    expect(typeof claims.sub).toBe('string');
    // The same user again through the same downstream is the same local user.
    const again = await (await FirstPartyClient.create({ issuer: as1.issuer, clientId: 'fed-app' })).authorize({
      mode: 'public',
      scope: 'openid',
      onInformation: () => Promise.resolve({ bank: 'bank-b' }),
      onChallenge: emailAt(email, []),
    });
    expect(decodeJwtUnverified(again.tokens.access_token).payload.sub).toBe(claims.sub);
  });

  it('FED-6 second round: an e-mail of the downstream’s domain routes there too (only email/phone free text), and goes with the PAR as login_hint', async () => {
    const email = `user${++n}@bank-b.example`;
    const prompts: string[][] = [];
    const seen: string[] = [];
    const result = await (await FirstPartyClient.create({ issuer: as1.issuer, clientId: 'fed-app' })).authorize({
      mode: 'public',
      scope: 'openid',
      onInformation: (request) => {
        const keys = [...Object.keys(request.userPrompt.options ?? {}), ...Object.keys(request.userPrompt.inputs ?? {})];
        prompts.push(keys);
        return Promise.resolve(keys.includes('bank') ? { bank: 'other' } : { email });
      },
      onChallenge: emailAt(email, seen),
    });
    expect(prompts).toEqual([['bank'], ['email']]);
    // The address given for routing went downstream as login_hint: AS2 sent its code at once.
    expect(seen).toEqual(['code_sent:email_otp']);
    expect(decodeJwtUnverified(result.tokens.access_token).payload.amr).toEqual(expect.arrayContaining(['fed']));
  });

  it('FED-3/8/14/15: with native_callback_uri, AS2 answers redirect_to_app; AS2’s app completes it and the code comes back through native_callback_uri to AS1’s response_uri', async () => {
    const email = `user${++n}@bank-b.example`;
    const opened: string[] = [];
    let callbackUrl = '';
    const app = await FirstPartyClient.create({ issuer: as1.issuer, clientId: 'fed-app' });
    const result = await app.authorize({
      mode: 'public',
      scope: 'openid',
      nativeCallbackUri: DEMO_CALLBACK,
      onInformation: () => Promise.resolve({ bank: 'bank-b' }),
      onChallenge: () => Promise.reject(new Error('the federating app is asked nothing: AS2’s app authenticates the user')),
      onRedirectToApp: async ({ deepLink, server }) => {
        expect(server).toBe(as2.issuer);
        opened.push(deepLink);
        // AS2's own app: a registered device of AS2 (the embedded default's first-party client).
        const as2App = await FirstPartyClient.create({ issuer: as2.issuer, clientId: DEMO_AS2_APP });
        await as2App.register();
        await as2App.requestToken();
        const handed = await as2App.completeAppHandoff(deepLink, { onChallenge: emailAt(email, []) });
        expect(handed.nativeCallbackUri).toBe(DEMO_CALLBACK);
        callbackUrl = handed.callbackUrl;
        // The app invokes native_callback_uri?authorization_code=… (FED-14); the client reads its query.
        return Object.fromEntries(new URL(handed.callbackUrl).searchParams);
      },
    });
    expect(opened).toHaveLength(1);
    const link = new URL(opened[0]);
    expect(`${link.origin}${link.pathname}`).toBe('https://as2-app.example/native-authorization');
    expect(link.searchParams.get('client_id')).toBe('as1');
    expect(callbackUrl.startsWith(`${DEMO_CALLBACK}?authorization_code=`)).toBe(true);
    expect(decodeJwtUnverified(result.tokens.access_token).payload.amr).toEqual(expect.arrayContaining(['fed']));
  });

  it('FED-3/FED-4: a native_callback_uri AS1 does not trust for the app is refused at AS1, before anything goes downstream', async () => {
    const app = await FirstPartyClient.create({ issuer: as1.issuer, clientId: 'fed-app' });
    const failure = await app
      .authorize({ mode: 'public', scope: 'openid', nativeCallbackUri: 'https://elsewhere.example/cb', onInformation: () => Promise.resolve({ bank: 'bank-b' }), onChallenge: () => Promise.resolve(undefined) })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(failure).toBeInstanceOf(OAuthClientError);
    expect(failure).toMatchObject({ status: 400, error: 'invalid_request' });
    expect((failure as OAuthClientError).description).toContain('native_callback_uri');
  });

  describe('refusals with the native downstream leg (nothing accepted twice, a FiPA error, never a 500)', () => {
    /** AS1's flow up to `federate`, then AS2's native leg by the app's own key: AS2's code for AS1. */
    async function federatedCode(email: string): Promise<{ app: ChallengeClient; code: string }> {
      const app = await ChallengeClient.create(as1.issuer);
      await app.send({ client_id: 'fed-app', response_type: 'code', code_challenge: app.codeChallenge, code_challenge_method: 'S256', scope: 'openid' });
      const fed = await app.send({ bank: 'bank-b' });
      expect(fed.body.error).toBe('federate');
      const downstream = await ChallengeClient.create(as2.issuer);
      const body = Object.fromEntries(new URLSearchParams(fed.body.federation_body as string));
      await downstream.send(body);
      await downstream.send({ challenge_type: 'email_otp', email });
      const done = await downstream.send({ code: await smtp.code(email) });
      expect(done.status).toBe(200);
      return { app, code: done.body.authorization_code as string };
    }
    const callback = (app: ChallengeClient, code: string): Promise<FormResponse> => postCallback(as1.issuer, app, { auth_session: app.authSession as string, authorization_code: code });

    it('a downstream code is accepted once: posted again after it completed, it is refused', async () => {
      const { app, code } = await federatedCode(`once${++n}@bank-b.example`);
      expect((await callback(app, code)).status).toBe(200);
      const again = await callback(app, code);
      expect(again.status).toBe(400);
      expect(again.body.authorization_code).toBeUndefined();
    });

    it('a code AS2 issued to another client (its own app) is refused by AS2 as AS1’s: a FiPA error, and the federation completes after', async () => {
      const { app, code } = await federatedCode(`other${++n}@bank-b.example`);
      // A code AS2 issued to its own first-party app, not to AS1.
      const own = await ChallengeClient.create(as2.issuer);
      const email = `own${++n}@bank-b.example`;
      await own.send({ client_id: 'demo-app', response_type: 'code', code_challenge: own.codeChallenge, code_challenge_method: 'S256', challenge_type: 'email_otp', email });
      const ownCode = await own.send({ code: await smtp.code(email) });
      expect(ownCode.status).toBe(200);
      const wrong = await callback(app, ownCode.body.authorization_code as string);
      expect(wrong.status).toBe(400);
      expect(wrong.body.error).toBe('invalid_grant');
      expect((await callback(app, code)).status).toBe(200);
    });

    it('PAR refused at AS2 (a native_callback_uri AS1 trusts but AS2 does not for AS1): AS1 answers 400 access_denied naming the downstream’s refusal, no federate', async () => {
      await as1.createClient({ ...(federationDemo(as1.issuer, as2.issuer).as1.files['clients.json'] as Record<string, unknown>[])[0], client_id: 'fed-app-2', native_callback_uris: ['https://other-app.example/cb'] });
      const app = await ChallengeClient.create(as1.issuer);
      await app.send({ client_id: 'fed-app-2', response_type: 'code', code_challenge: app.codeChallenge, code_challenge_method: 'S256', scope: 'openid', native_callback_uri: 'https://other-app.example/cb' });
      const refused = await app.send({ bank: 'bank-b' });
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({ error: 'access_denied', auth_session: app.authSession });
      expect(refused.body.error_description).toContain('refused the pushed authorization request (invalid_request)');
    });
  });
});
