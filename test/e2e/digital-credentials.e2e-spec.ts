import { DataSource } from 'typeorm';
import type { RunningApp } from '@fpa/testing/app';
import { createTestMdocHolder, type TestMdocIssuer, type TestSdJwtIssuer } from '@fpa/verifier/testing';
import { ORIGIN, RETURN, MDL_ACR, PLAIN, startDcSuite, startFlow, tokenOf } from '../support/dc-suite';
import { expectNoStore } from '../support/http';
import { MiniWallet, verifyRequestObject } from '../support/mini-wallet';

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
    const wallet = new MiniWallet(sdIssuer);
    const { c, res } = await startFlow(suite, { dc_api: 'true' });
    expect(res.status).toBe(403);
    expectNoStore(res);
    expect(res.body).toMatchObject({ error: 'insufficient_authorization', challenge_type: 'digital_credential', status: 'presentation_required', type: 'digital_credentials' });
    const [signed, unsigned] = (res.body.credentials_request as { requests: { protocol: string; data: Record<string, unknown> }[] }).requests;
    expect(signed.protocol).toBe('openid4vp-v1-signed');
    expect(unsigned.protocol).toBe('openid4vp-v1-unsigned');
    // VP-3: no client_id in the unsigned request; expected_origins in the signed one.
    expect(unsigned.data.client_id).toBeUndefined();
    const request = await verifyRequestObject(signed.data.request as string);
    expect(request).toMatchObject({ response_mode: 'dc_api.jwt', expected_origins: [ORIGIN], client_id: `x509_san_dns:127.0.0.1`, nonce: unsigned.data.nonce });

    const vc = await wallet.sdJwt({ sub: 'holder-1', email: 'erika@example.com', given_name: 'Erika' });
    const presentation = await wallet.present(vc, request, { aud: `origin:${ORIGIN}` });
    const jwe = await wallet.encrypt(request, { vp_token: { credential: [presentation] } });
    const done = await c.sendJson({ vp_token: jwe });
    expect(done.status).toBe(200);
    const at = await tokenOf(c, done.body.authorization_code as string);
    expect(at).toMatchObject({ amr: expect.arrayContaining(['vc', 'pop']) });
    // VP-7 and data minimisation: the link is (issuer, sub) → this user, keeping only the claims the policy names.
    const rows = (await suite.get(DataSource).query(`SELECT issuer, user_id, claims FROM credential_identities WHERE subject = 'holder-1'`)) as { issuer: string; user_id: string; claims: unknown }[];
    expect(rows).toEqual([{ issuer: sdIssuer.pki.issuer, user_id: at.sub, claims: { email: 'erika@example.com' } }]);

    // The same credential logs the same user in again (VP-7: issuer + sub), and a replayed vp_token finds nothing to answer.
    const again = await startFlow(suite, { dc_api: 'true' });
    const req2 = await verifyRequestObject((again.res.body.credentials_request as { requests: { data: { request: string } }[] }).requests[0].data.request);
    const ok2 = await again.c.sendJson({ vp_token: await wallet.encrypt(req2, { vp_token: { credential: [await wallet.present(vc, req2, { aud: `origin:${ORIGIN}` })] } }) });
    expect((await tokenOf(again.c, ok2.body.authorization_code as string)).sub).toBe(at.sub);
    const replay = await c.sendJson({ vp_token: jwe });
    expect(replay.status).toBe(400);
  });

  it('cross device, SD-JWT VC (direct_post.jwt): pending with the link and a QR code; the wallet posts; the next poll gets the code', async () => {
    const wallet = new MiniWallet(sdIssuer);
    const { c, res } = await startFlow(suite, { openid4vp_flow_type: 'cross_device', acr_values: 'urn:first-party-auth:acr:vc' });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ status: 'pending', type: 'digital_credentials', interval: 2, credentials_request: expect.stringMatching(/^openid4vp:\/\/\?client_id=x509_san_dns%3A127\.0\.0\.1&request_uri=/), qr_code: expect.stringMatching(/^data:image\/svg\+xml;base64,/) });
    const { request } = await wallet.fetchRequest(res.body.credentials_request as string);
    expect(request).toMatchObject({ response_type: 'vp_token', response_mode: 'direct_post.jwt', response_uri: `${suite.issuer}/openid4vp/response`, aud: 'https://self-issued.me/v2' });
    expect((await c.send({})).body).toMatchObject({ status: 'pending' });

    const vc = await wallet.sdJwt({ sub: 'holder-2', email: 'max@example.com' });
    const posted = await wallet.respond(request, { credential: [await wallet.present(vc, request)] });
    expect(posted.status).toBe(200);
    expect(posted.body).toEqual({});
    expect(posted.text).not.toContain('authorization_code');
    const done = await c.send({});
    expect(done.status).toBe(200);
    expect(await tokenOf(c, done.body.authorization_code as string)).toMatchObject({ acr: 'urn:first-party-auth:acr:vc', amr: expect.arrayContaining(['vc']) });
  });

  it('same device, SD-JWT VC (direct_post): the wallet gets redirect_uri#response_code; the app completes with it, once', async () => {
    const wallet = new MiniWallet(sdIssuer);
    const { c, res } = await startFlow(suite, { openid4vp_flow_type: 'same_device', openid4vp_redirect_uri: RETURN }, PLAIN.client_id);
    expect(res.body).toMatchObject({ status: 'pending', type: 'digital_credentials' });
    expect(res.body.qr_code).toBeUndefined();
    const { request } = await wallet.fetchRequest(res.body.credentials_request as string);
    expect(request.response_mode).toBe('direct_post');
    const posted = await wallet.respond(request, { credential: [await wallet.present(await wallet.sdJwt({ sub: 'holder-3' }), request)] });
    expect(posted.status).toBe(200);
    const redirect = posted.body.redirect_uri as string;
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
    const holder = createTestMdocHolder();
    const wallet = new MiniWallet(sdIssuer);
    const issuerSigned = await mdocIssuer.issue({ devicePublicJwk: holder.devicePublicJwk });

    const dc = await startFlow(suite, { dc_api: 'true', acr_values: MDL_ACR });
    const dcReq = await verifyRequestObject((dc.res.body.credentials_request as { requests: { data: { request: string } }[] }).requests[0].data.request);
    const dcDone = await dc.c.sendJson({ vp_token: await wallet.encrypt(dcReq, { vp_token: { mdl: [await wallet.mdoc(holder, issuerSigned, dcReq, ORIGIN)] } }) });
    expect(dcDone.body).toMatchObject({ authorization_code: expect.any(String) });
    const first = await tokenOf(dc.c, dcDone.body.authorization_code as string);

    const cross = await startFlow(suite, { openid4vp_flow_type: 'cross_device', acr_values: MDL_ACR });
    const { request } = await wallet.fetchRequest(cross.res.body.credentials_request as string);
    expect((await wallet.respond(request, { mdl: [await wallet.mdoc(holder, issuerSigned, request)] })).status).toBe(200);
    const done = await cross.c.send({});
    expect(done.status).toBe(200);
    expect((await tokenOf(cross.c, done.body.authorization_code as string)).sub).toBe(first.sub);
  });

  it('refuses a request object fetched after the request expired', async () => {
    const wallet = new MiniWallet(sdIssuer);
    const { res } = await startFlow(suite, { openid4vp_flow_type: 'cross_device' });
    suite.clock.advance(301_000);
    const late = await wallet.fetchRequest(res.body.credentials_request as string);
    expect(late.response.status).toBe(400);
    expect(late.response.body).toMatchObject({ error: 'invalid_request' });
  });
});

