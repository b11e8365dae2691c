import { createHash, generateKeyPairSync } from 'node:crypto';
import {
  TEST_PID_VCT,
  TestHolder,
  TestSdJwtIssuer,
  TestStatusList,
  createTestPki,
  startTestHttpServer,
  testTransactionData,
  type SdJwtIssueOptions,
  type SdJwtPresentOptions,
  type TestHttpServer,
} from '@fpa/verifier/testing';
import { createHttpFetcher } from '../remote/remote-fetcher';
import { StatusListChecker } from '../status/status-list.checker';
import { PresentationRefusal, type PresentationRefusalReason } from './presentation-refusal';
import { verifySdJwtPresentation, type SdJwtPresentationExpectations } from './sd-jwt-presentation.verifier';

const AUD = 'x509_san_dns:auth.example.com';
const NONCE = 'n-0S6_WzA2Mj';

let issuer: TestSdJwtIssuer;
let holder: TestHolder;
let credential: string;
let expect_: SdJwtPresentationExpectations;

beforeAll(async () => {
  issuer = await TestSdJwtIssuer.create();
  holder = TestHolder.create();
  credential = await issuer.issue({ holderJwk: holder.publicJwk });
  expect_ = { nonce: NONCE, audience: AUD, trustAnchors: [issuer.pki.root], allowedVcts: [TEST_PID_VCT] };
});

const now = () => Math.floor(Date.now() / 1000);
const present = (options: Partial<SdJwtPresentOptions> = {}, cred = credential) => holder.present(cred, { nonce: NONCE, aud: AUD, ...options });
const issue = (options: Partial<SdJwtIssueOptions> = {}, by = issuer) => by.issue({ holderJwk: holder.publicJwk, ...options });

async function refusal(presentation: Promise<string> | string, overrides: Partial<SdJwtPresentationExpectations> = {}): Promise<PresentationRefusal> {
  try {
    await verifySdJwtPresentation(await presentation, { ...expect_, ...overrides });
  } catch (e) {
    if (e instanceof PresentationRefusal) return e;
    throw e;
  }
  throw new Error('the presentation was accepted');
}

async function expectRefused(presentation: Promise<string> | string, reason: PresentationRefusalReason, overrides: Partial<SdJwtPresentationExpectations> = {}): Promise<void> {
  const e = await refusal(presentation, overrides);
  expect({ code: e.code, reason: e.reason }).toEqual({ code: 'invalid_presentation', reason });
}

/** Re-encodes one disclosure with another value (same salt and name): what a wallet altering a claim sends. */
function alterFirstDisclosure(disclosures: string[]): string[] {
  const [salt, name] = JSON.parse(Buffer.from(disclosures[0], 'base64url').toString()) as [string, string, unknown];
  return [Buffer.from(JSON.stringify([salt, name, 'Mallory'])).toString('base64url'), ...disclosures.slice(1)];
}

describe('verifySdJwtPresentation (VP-5, SD-JWT VC dc+sd-jwt)', () => {
  it('accepts a presentation with holder binding and returns issuer, vct, disclosed claims and the holder key thumbprint', async () => {
    const result = await verifySdJwtPresentation(await present(), expect_);
    expect(result.issuer).toBe('https://issuer.example');
    expect(result.vct).toBe(TEST_PID_VCT);
    expect(result.claims).toMatchObject({ given_name: 'Erika', family_name: 'Mustermann', address: { country: 'DE' } });
    const { crv, kty, x, y } = holder.publicJwk;
    const expected = createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url');
    expect(result.holderKeyThumbprint).toBe(expected);
  });

  it('returns only what the holder chose to disclose', async () => {
    const result = await verifySdJwtPresentation(await present({ frame: { family_name: true } }), expect_);
    expect(result.claims.family_name).toBe('Mustermann');
    expect(result.claims).not.toHaveProperty('given_name');
  });

  it('accepts origin:<origin> as the audience over the DC API (VP-3)', async () => {
    const aud = 'origin:https://app.example.com';
    await expect(verifySdJwtPresentation(await present({ aud }), { ...expect_, audience: aud })).resolves.toMatchObject({ vct: TEST_PID_VCT });
  });

  describe('holder binding (required; checked here, not left to @sd-jwt)', () => {
    it('refuses another nonce', () => expectRefused(present({ nonce: 'other-nonce' }), 'nonce'));
    it('refuses another audience (another verifier client_id)', () => expectRefused(present({ aud: 'x509_san_dns:evil.example' }), 'audience'));
    it('refuses origin:<origin> of another origin over the DC API', () =>
      expectRefused(present({ aud: 'origin:https://evil.example' }), 'audience', { audience: 'origin:https://app.example.com' }));
    it('refuses a stale KB-JWT iat', () => expectRefused(present({ iat: now() - 3600 }), 'iat'));
    it('refuses a KB-JWT iat in the future beyond the skew', () => expectRefused(present({ iat: now() + 600 }), 'iat'));
    it('accepts a KB-JWT iat within the skew', async () => {
      await expect(verifySdJwtPresentation(await present({ iat: now() + 30 }), expect_)).resolves.toBeDefined();
    });
    it('refuses a presentation without a KB-JWT', () => expectRefused(present({ omitKeyBinding: true }), 'key_binding_missing'));
    it('refuses a KB-JWT not signed by the cnf.jwk key', () =>
      expectRefused(present({ signWith: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey }), 'key_binding_signature'));
    it('refuses a credential without a holder key (cnf.jwk): holder binding is not waived', async () =>
      expectRefused(present({}, await issue({ holderJwk: undefined as never })), 'key_binding_missing'));
    it('refuses a cnf.jwk that is a private key', async () => {
      const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
      await expectRefused(present({}, await issue({ holderJwk: jwk })), 'holder_key');
    });
    it('refuses a KB-JWT whose typ is not kb+jwt', () => expectRefused(present({ kbTyp: 'JWT' }), 'typ'));
    it('refuses an sd_hash that is not over the presentation as sent', () => expectRefused(present({ sdHash: createHash('sha256').update('x').digest('base64url') }), 'sd_hash'));
    it('refuses a disclosure dropped after the KB-JWT was made (sd_hash over more than was sent)', async () => {
      const sent = await present();
      const parts = sent.split('~');
      await expectRefused([parts[0], ...parts.slice(2)].join('~'), 'sd_hash');
    });
  });

  describe('disclosures', () => {
    it('refuses an altered disclosure even with a fresh KB-JWT over it', () => expectRefused(present({ tamperDisclosures: alterFirstDisclosure }), 'disclosure_tampered'));
    it('refuses a disclosure taken from another credential', async () => {
      const other = await issue({ claims: { given_name: 'Mallory' } });
      const foreign = other.split('~')[1];
      await expectRefused(present({ tamperDisclosures: (d) => [...d, foreign] }), 'disclosure_tampered');
    });
    it('refuses a disclosure sent twice', () => expectRefused(present({ tamperDisclosures: (d) => [...d, d[0]] }), 'disclosure_tampered'));
  });

  describe('issuer and credential', () => {
    it('refuses an issuer whose x5c does not chain to a trust anchor', async () => {
      const stranger = await TestSdJwtIssuer.create();
      await expectRefused(present({}, await issue({}, stranger)), 'untrusted_issuer');
    });
    it('refuses a credential without x5c', async () => expectRefused(present({}, await issue({ header: { x5c: undefined } })), 'untrusted_issuer'));
    it('refuses an issuer certificate that has expired', async () => {
      const old = new TestSdJwtIssuer(await createTestPki({ notBefore: new Date(Date.now() - 20 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) }));
      await expectRefused(present({}, await issue({}, old)), 'untrusted_issuer', { trustAnchors: [old.pki.root] });
    });
    it('refuses a credential not signed by the x5c key', async () => {
      const other = await createTestPki();
      const forger = new TestSdJwtIssuer({ ...issuer.pki, issuerKey: other.issuerKey });
      await expectRefused(present({}, await issue({}, forger)), 'signature');
    });
    it('refuses an iss that is not a name of the issuer certificate', async () => expectRefused(present({}, await issue({ iss: 'https://other.example' })), 'issuer_mismatch'));
    it('refuses a vct that was not asked for', async () => expectRefused(present({}, await issue({ vct: 'urn:other:1' })), 'vct'));
    it('refuses an expired credential', async () => expectRefused(present({}, await issue({ iat: now() - 7200, exp: now() - 3600 })), 'expired'));
    it('refuses a credential not valid yet (nbf)', async () => expectRefused(present({}, await issue({ nbf: now() + 3600 })), 'not_yet_valid'));
    it('refuses a typ other than dc+sd-jwt', async () => expectRefused(present({}, await issue({ header: { typ: 'JWT' } })), 'typ'));
    it('refuses a credential carrying a status reference when no status list checker is configured (nothing is fetched)', async () =>
      expectRefused(present({}, await issue({ status: { idx: 1, uri: 'https://status.example/1' } })), 'status_unsupported'));
    it('answers vp_formats_not_supported for a symmetric or unknown issuer alg', async () => {
      // The library always writes its own alg: rewrite the header as an attacker would (the signature no longer matters).
      const [jwt, ...rest] = credential.split('~');
      const [h, p, sig] = jwt.split('.');
      const header = { ...JSON.parse(Buffer.from(h, 'base64url').toString()), alg: 'HS256' };
      const forged = [`${Buffer.from(JSON.stringify(header)).toString('base64url')}.${p}.${sig}`, ...rest].join('~');
      const e = await refusal(present({}, forged));
      expect({ code: e.code, reason: e.reason }).toEqual({ code: 'vp_formats_not_supported', reason: 'alg' });
    });
    it('refuses what is not an SD-JWT', () => expectRefused('not-a-presentation', 'malformed'));
  });

  describe('transaction data (VP-4)', () => {
    const data = [testTransactionData({ amount: '42.00', currency: 'EUR' })];
    it('accepts transaction_data_hashes over each transaction_data string as sent', async () => {
      const result = await verifySdJwtPresentation(await present({ transactionData: data }), { ...expect_, transactionData: data });
      expect(result.keyBinding.transaction_data_hashes).toEqual([createHash('sha256').update(data[0]).digest('base64url')]);
    });
    it('refuses missing transaction_data_hashes', () => expectRefused(present(), 'transaction_data_hashes', { transactionData: data }));
    it('refuses hashes of other transaction data', () =>
      expectRefused(present({ transactionData: [testTransactionData({ amount: '4200.00', currency: 'EUR' })] }), 'transaction_data_hashes', { transactionData: data }));
    it('refuses a transaction_data_hashes_alg the request did not allow', () =>
      expectRefused(present({ transactionData: data, transactionDataHashesAlg: 'sha-512' }), 'transaction_data_hashes', { transactionData: data }));
    it('honours transaction_data_hashes_alg sha-256 when named', async () => {
      await expect(verifySdJwtPresentation(await present({ transactionData: data, transactionDataHashesAlg: 'sha-256' }), { ...expect_, transactionData: data })).resolves.toBeDefined();
    });
    it('answers invalid_transaction_data when the transaction data to check is not valid (VP-6)', async () => {
      const bad = Buffer.from(JSON.stringify({ type: 'payment_initiation' })).toString('base64url');
      const e = await refusal(present({ transactionData: [bad] }), { transactionData: [bad] });
      expect({ code: e.code, reason: e.reason }).toEqual({ code: 'invalid_transaction_data', reason: 'transaction_data' });
    });
  });

  describe('Token Status List over HTTP (VP-5 revocation; draft-ietf-oauth-status-list)', () => {
    let server: TestHttpServer;
    let list: TestStatusList;
    let statusLists: StatusListChecker;

    beforeAll(async () => {
      server = await startTestHttpServer();
      list = new TestStatusList(issuer, { uri: server.url('/status/1') });
      server.serveStatusList('/status/1', () => list.token({ ttl: 0 }));
      // ttl 0 and maxCacheSeconds 0: every check fetches, so a revocation shows at once.
      statusLists = new StatusListChecker({ fetcher: createHttpFetcher({ allowHttpLoopback: true }), maxCacheSeconds: 0 });
    });
    afterAll(() => server.close());

    it('accepts a credential whose entry is VALID, and refuses it once revoked', async () => {
      const status = list.allocate();
      const presentation = await present({}, await issue({ status }));
      await expect(verifySdJwtPresentation(presentation, { ...expect_, statusLists })).resolves.toMatchObject({ vct: TEST_PID_VCT });
      list.revoke(status.idx);
      await expectRefused(presentation, 'credential_revoked', { statusLists });
    });

    it('refuses a suspended credential', async () => {
      const status = list.allocate();
      list.suspend(status.idx);
      await expectRefused(present({}, await issue({ status })), 'credential_suspended', { statusLists });
    });

    it('fails closed when the list is not served', async () => {
      await expectRefused(present({}, await issue({ status: { idx: 0, uri: server.url('/status/missing') } })), 'status_unavailable', { statusLists });
    });

    it('does not fetch http outside loopback-for-tests (https only)', async () => {
      const strict = new StatusListChecker({ fetcher: createHttpFetcher() });
      const requests = server.requests('/status/1');
      await expectRefused(present({}, await issue({ status: list.allocate() })), 'status_unavailable', { statusLists: strict });
      expect(server.requests('/status/1')).toBe(requests);
    });
  });
});
