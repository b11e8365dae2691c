import { DataSource } from 'typeorm';
import type { RunningApp } from '@fpa/testing/app';
import { DC_API_SIGNED, DC_API_UNSIGNED, TestWallet, type DcApiCredentialsRequest, type TestMdocIssuer, type TestSdJwtIssuer } from '@fpa/verifier/testing';
import { ORIGIN, RETURN, MDL_ACR, PLAIN, startDcSuite, startFlow, tokenOf, walletHolding } from '../support/dc-suite';
import { expectNoStore } from '../support/http';

describe('digital credentials through /authorize-challenge (issue 11, WALLET-1…3, VP-1…7)', () => {
  let suite: RunningApp;
  let sdIssuer: TestSdJwtIssuer;
  let mdocIssuer: TestMdocIssuer;

  beforeAll(async () => {
    ({ suite, sdIssuer, mdocIssuer } = await startDcSuite('dcflows'));
  });
  afterAll(async () => {
    await suite?.close();
  });

  it('DC API, SD-JWT VC (dc_api.jwt): the prompt carries signed and unsigned requests; the vp_token the app posts logs the credential’s user in', async () => {
    const wallet = await walletHolding(sdIssuer, { sub: 'holder-1', email: 'erika@example.com', given_name: 'Erika' }, {}, mdocIssuer);
    const { c, res } = await startFlow(suite, { dc_api: 'true' });
    expect(res.status).toBe(403);
    expectNoStore(res);
    expect(res.body).toMatchObject({ error: 'insufficient_authorization', challenge_type: 'digital_credential', status: 'presentation_required', type: 'digital_credentials' });
    const credentialsRequest = res.body.credentials_request as DcApiCredentialsRequest & { requests: { protocol: string; data: Record<string, unknown> }[] };
    const [signed, unsigned] = credentialsRequest.requests;
    expect(signed.protocol).toBe(DC_API_SIGNED);
    expect(unsigned.protocol).toBe(DC_API_UNSIGNED);
    // VP-3: no client_id in the unsigned request; expected_origins in the signed one (the wallet checks it against ORIGIN).
    expect(unsigned.data.client_id).toBeUndefined();
    // disclose_all: the wallet also discloses given_name, which the policy does not keep (data minimisation below).
    const answer = await wallet.answerDcApi(credentialsRequest, ORIGIN, { misbehave: 'disclose_all' });
    expect(answer.protocol).toBe(DC_API_SIGNED);
    expect(answer.request).toMatchObject({ response_mode: 'dc_api.jwt', expected_origins: [ORIGIN], client_id: `x509_san_dns:127.0.0.1`, nonce: unsigned.data.nonce });
    expect(typeof answer.vpToken).toBe('string');

    const done = await c.sendJson({ vp_token: answer.vpToken });
    expect(done.status).toBe(200);
    const at = await tokenOf(c, done.body.authorization_code as string);
    expect(at).toMatchObject({ amr: expect.arrayContaining(['vc', 'pop']) });
    // VP-7 and data minimisation: the link is (issuer, sub) → this user, keeping only the claims the policy names.
    const rows = (await suite.get(DataSource).query(`SELECT issuer, user_id, claims FROM credential_identities WHERE subject = 'holder-1'`)) as { issuer: string; user_id: string; claims: unknown }[];
    expect(rows).toEqual([{ issuer: sdIssuer.pki.issuer, user_id: at.sub, claims: { email: 'erika@example.com' } }]);

    // The same credential logs the same user in again (VP-7: issuer + sub), and a replayed vp_token finds nothing to answer.
    const again = await startFlow(suite, { dc_api: 'true' });
    const second = await wallet.answerDcApi(again.res.body.credentials_request as DcApiCredentialsRequest, ORIGIN);
    const ok2 = await again.c.sendJson({ vp_token: second.vpToken });
    expect((await tokenOf(again.c, ok2.body.authorization_code as string)).sub).toBe(at.sub);
    const replay = await c.sendJson({ vp_token: answer.vpToken });
    expect(replay.status).toBe(400);
  });

  it('cross device, SD-JWT VC (direct_post.jwt): pending with the link and a QR code; the wallet posts; the next poll gets the code', async () => {
    const wallet = await walletHolding(sdIssuer, { sub: 'holder-2', email: 'max@example.com' }, {}, mdocIssuer);
    const { c, res } = await startFlow(suite, { openid4vp_flow_type: 'cross_device', acr_values: 'urn:first-party-auth:acr:vc' });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ status: 'pending', type: 'digital_credentials', interval: 2, credentials_request: expect.stringMatching(/^openid4vp:\/\/\?client_id=x509_san_dns%3A127\.0\.0\.1&request_uri=/), qr_code: expect.stringMatching(/^data:image\/svg\+xml;base64,/) });
    const responseUri = `${suite.issuer}/openid4vp/response`;
    // The app polls after the wallet fetched the request object and before it posts its answer: still pending.
    let pollBeforeAnswer: unknown;
    const answer = await wallet.followLink(res.body.credentials_request as string, {
      fetch: async (url, init) => {
        if (String(url) === responseUri) pollBeforeAnswer = (await c.send({})).body;
        return fetch(url, init);
      },
    });
    expect(answer.request).toMatchObject({ response_type: 'vp_token', response_mode: 'direct_post.jwt', response_uri: responseUri, aud: 'https://self-issued.me/v2' });
    expect(pollBeforeAnswer).toMatchObject({ status: 'pending' });
    expect(Object.keys(answer.posted.form)).toEqual(['response']);
    expect(answer.status).toBe(200);
    // The wallet gets nothing back, in particular no authorization code.
    expect(answer.body).toEqual({});
    const done = await c.send({});
    expect(done.status).toBe(200);
    expect(await tokenOf(c, done.body.authorization_code as string)).toMatchObject({ acr: 'urn:first-party-auth:acr:vc', amr: expect.arrayContaining(['vc']) });
  });

  it('same device, SD-JWT VC (direct_post): the wallet gets redirect_uri#response_code; the app completes with it, once', async () => {
    const wallet = await walletHolding(sdIssuer, { sub: 'holder-3' }, {}, mdocIssuer);
    const { c, res } = await startFlow(suite, { openid4vp_flow_type: 'same_device', openid4vp_redirect_uri: RETURN }, PLAIN.client_id);
    expect(res.body).toMatchObject({ status: 'pending', type: 'digital_credentials' });
    expect(res.body.qr_code).toBeUndefined();
    const answer = await wallet.followLink(res.body.credentials_request as string);
    expect(answer.request.response_mode).toBe('direct_post');
    expect(answer.status).toBe(200);
    const redirect = (answer.body as { redirect_uri: string }).redirect_uri;
    expect(redirect.startsWith(`${RETURN}#response_code=`)).toBe(true);
    const responseCode = redirect.split('#response_code=')[1];
    // Polling alone does not complete a same-device flow: the response code does.
    expect((await c.send({})).body).toMatchObject({ status: 'pending' });
    const done = await c.sendJson({ response_code: responseCode });
    expect(done.status).toBe(200);
    expect(await tokenOf(c, done.body.authorization_code as string, PLAIN.client_id)).toMatchObject({ amr: expect.arrayContaining(['vc']) });
    expect((await c.sendJson({ response_code: responseCode })).status).toBe(400);
  });

  it('mdoc over the DC API and cross device (acr mapped to an mDL query)', async () => {
    const wallet = await TestWallet.create({ sdJwtIssuer: sdIssuer, mdocIssuer });
    await wallet.addMdoc(await mdocIssuer.issue({ devicePublicJwk: wallet.mdocHolder.devicePublicJwk }));

    const dc = await startFlow(suite, { dc_api: 'true', acr_values: MDL_ACR });
    const dcAnswer = await wallet.answerDcApi(dc.res.body.credentials_request as DcApiCredentialsRequest, ORIGIN);
    const dcDone = await dc.c.sendJson({ vp_token: dcAnswer.vpToken });
    expect(dcDone.body).toMatchObject({ authorization_code: expect.any(String) });
    const first = await tokenOf(dc.c, dcDone.body.authorization_code as string);

    const cross = await startFlow(suite, { openid4vp_flow_type: 'cross_device', acr_values: MDL_ACR });
    const answer = await wallet.followLink(cross.res.body.credentials_request as string);
    expect(Object.keys(answer.vpToken ?? {})).toEqual(['mdl']);
    expect(answer.status).toBe(200);
    const done = await cross.c.send({});
    expect(done.status).toBe(200);
    expect((await tokenOf(cross.c, done.body.authorization_code as string)).sub).toBe(first.sub);
  });

  it('refuses a request object fetched after the request expired', async () => {
    const wallet = await walletHolding(sdIssuer, { sub: 'holder-4' }, {}, mdocIssuer);
    const { res } = await startFlow(suite, { openid4vp_flow_type: 'cross_device' });
    suite.clock.advance(301_000);
    // The wallet's fetch of the request object is answered 400 invalid_request; it never gets to present.
    await expect(wallet.followLink(res.body.credentials_request as string)).rejects.toThrow(/^request_uri answered 400: \{"error":"invalid_request"/);
  });
});
