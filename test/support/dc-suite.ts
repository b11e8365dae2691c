import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwtUnverified } from '@fpa/crypto';
import { generateVerifierIdentity } from '@fpa/openid4vp';
import { ChallengeClient, DEVICE_CLIENT } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { createTestMdocIssuer, TestSdJwtIssuer, TestWallet, type SdJwtIssueOptions, type TestMdocIssuer } from '@fpa/verifier/testing';
import { authorizationDetailsFile } from './par';

/** Issue 11 e2e support: an app with the digital_credential method, test issuers trusted, two clients. */
export const ORIGIN = 'https://app.example';
export const MDL_ACR = 'urn:example:acr:mdl';
export const RETURN = 'https://app.example/wallet-return';
export const APP = { ...DEVICE_CLIENT, client_id: 'dc-app', grant_types: ['authorization_code', 'refresh_token'], origins: [ORIGIN], openid4vp_redirect_uris: [RETURN], authorization_details_types: ['payment_initiation'], challenge_policy: { acr: { [MDL_ACR]: { amr: ['vc'] } } } };
export const PLAIN = { ...APP, client_id: 'dc-plain' };

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
    AUTHORIZATION_DETAILS_FILE: authorizationDetailsFile(),
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
  if (tokens.status !== 200) throw new Error(`token request failed: ${tokens.text}`);
  return decodeJwtUnverified(tokens.body.access_token as string).payload;
}


/**
 * The wallet of the e2e tests is TestWallet (@fpa/verifier/testing), a third-party-style OpenID4VP 1.0 wallet:
 * this one holds a single SD-JWT VC of `sdIssuer` with `claims`, bound to its key (`issue` adds exp, iat…).
 */
export async function walletHolding(sdIssuer: TestSdJwtIssuer, claims: Record<string, unknown>, issue: Partial<SdJwtIssueOptions> = {}, mdocIssuer?: TestMdocIssuer): Promise<TestWallet> {
  const wallet = await TestWallet.create({ sdJwtIssuer: sdIssuer, ...(mdocIssuer ? { mdocIssuer } : {}) });
  await wallet.addSdJwt(await sdIssuer.issue({ ...issue, claims, holderJwk: wallet.sdJwtHolder.publicJwk }));
  return wallet;
}
