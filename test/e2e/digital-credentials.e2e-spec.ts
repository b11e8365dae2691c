import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwtUnverified } from '@fpa/crypto';
import { generateVerifierIdentity } from '@fpa/openid4vp';
import { ChallengeClient, DEVICE_CLIENT } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { createTestMdocHolder, createTestMdocIssuer, TestSdJwtIssuer, type TestMdocIssuer } from '@fpa/verifier/testing';
import { expectNoStore } from '../support/http';
import { MiniWallet, verifyRequestObject, type RequestObject } from '../support/mini-wallet';

const ORIGIN = 'https://app.example';
const MDL_ACR = 'urn:example:acr:mdl';
const RETURN = 'https://app.example/wallet-return';
const APP = { ...DEVICE_CLIENT, client_id: 'dc-app', grant_types: ['authorization_code', 'refresh_token'], origins: [ORIGIN], openid4vp_redirect_uris: [RETURN], authorization_details_types: ['payment_initiation'], challenge_policy: { acr: { [MDL_ACR]: { amr: ['vc'] } } } };
const PLAIN = { ...APP, client_id: 'dc-plain' };

/** The embedded default query plus an mdoc query for MDL_ACR; `dc-plain` asks for unencrypted responses. */
export const POLICY = {
  dcql: {
    default: { credentials: [{ id: 'credential', format: 'dc+sd-jwt', meta: { vct_values: ['urn:eudi:pid:1'] }, claims: [{ id: 'sub', path: ['sub'] }, { id: 'email', path: ['email'] }], claim_sets: [['sub', 'email'], ['sub']] }] },
    acr: { [MDL_ACR]: { credentials: [{ id: 'mdl', format: 'mso_mdoc', meta: { doctype_value: 'org.iso.18013.5.1.mDL' }, claims: [{ path: ['org.iso.18013.5.1', 'document_number'] }, { path: ['org.iso.18013.5.1', 'family_name'] }] }] } },
  },
  clients: { 'dc-plain': { response_mode: 'direct_post' } },
};

export async function startDcSuite(label: string): Promise<{ suite: RunningApp; sdIssuer: TestSdJwtIssuer; mdocIssuer: TestMdocIssuer }> {
  const sdIssuer = await TestSdJwtIssuer.create();
  const mdocIssuer = await createTestMdocIssuer();
  const dir = mkdtempSync(join(tmpdir(), 'fpa-dc-'));
  writeFileSync(join(dir, 'sdjwt-root.pem'), sdIssuer.pki.rootPem);
  writeFileSync(join(dir, 'iaca.pem'), `-----BEGIN CERTIFICATE-----\n${Buffer.from(mdocIssuer.iacaRoot).toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`);
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(POLICY));
  // Production mode (the e2e default) needs a configured verifier key and certificate for ISSUER's host.
  const verifier = await generateVerifierIdentity('http://127.0.0.1');
  writeFileSync(join(dir, 'verifier.key'), verifier.signingKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  writeFileSync(join(dir, 'verifier.crt'), `-----BEGIN CERTIFICATE-----\n${verifier.x5c[0].replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`);
  const suite = await startStandalone(label, {
    CHALLENGE_METHODS: 'email_otp,digital_credential',
    DIGITAL_CREDENTIALS_TRUST_ANCHORS: dir,
    DIGITAL_CREDENTIALS_FILE: join(dir, 'policy.json'),
    DIGITAL_CREDENTIALS_VERIFIER_KEY_FILE: join(dir, 'verifier.key'),
    DIGITAL_CREDENTIALS_VERIFIER_CERT_FILE: join(dir, 'verifier.crt'),
  });
  await suite.createClient(APP);
  await suite.createClient(PLAIN);
  return { suite, sdIssuer, mdocIssuer };
}

export async function startFlow(suite: RunningApp, params: Record<string, string>, clientId = APP.client_id): Promise<{ c: ChallengeClient; res: Awaited<ReturnType<ChallengeClient['send']>> }> {
  const c = await ChallengeClient.create(suite.issuer);
  const res = await c.send({ client_id: clientId, response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256', challenge_type: 'digital_credential', ...params });
  return { c, res };
}

export async function tokenOf(c: ChallengeClient, code: string, clientId = APP.client_id): Promise<Record<string, unknown>> {
  const tokens = await c.redeem(code, { client_id: clientId });
  expect(tokens.status).toBe(200);
  return decodeJwtUnverified(tokens.body.access_token as string).payload;
}

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

export type { RequestObject };
