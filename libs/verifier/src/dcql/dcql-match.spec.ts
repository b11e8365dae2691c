import { createTestMdocHolder, createTestMdocIssuer, MDL_DOCTYPE, MDL_NAMESPACE, TEST_PID_VCT, TestHolder, TestSdJwtIssuer } from '@fpa/verifier/testing';
import { verifyMdocPresentation, type VerifiedMdoc } from '../mdoc/verify-mdoc-presentation';
import { verifySdJwtPresentation, type VerifiedSdJwtPresentation } from '../sd-jwt/sd-jwt-presentation.verifier';
import { DcqlQueryError, matchDcqlQuery, parseDcqlQuery } from './dcql-match';

const query = {
  credentials: [
    {
      id: 'pid',
      format: 'dc+sd-jwt',
      meta: { vct_values: [TEST_PID_VCT] },
      claims: [{ path: ['family_name'] }, { path: ['address', 'country'], values: ['DE', 'AT'] }],
    },
  ],
};

let issuer: TestSdJwtIssuer;
let holder: TestHolder;

beforeAll(async () => {
  issuer = await TestSdJwtIssuer.create();
  holder = TestHolder.create();
});

/** Issues, presents and verifies for real, so DCQL sees what the verifier returns. */
async function verified(claims: Record<string, unknown>, frame?: Record<string, unknown>, vct = TEST_PID_VCT): Promise<VerifiedSdJwtPresentation> {
  const credential = await issuer.issue({ holderJwk: holder.publicJwk, claims, vct });
  const presentation = await holder.present(credential, { nonce: 'n', aud: 'x509_san_dns:auth.example.com', frame: frame as never });
  return verifySdJwtPresentation(presentation, { nonce: 'n', audience: 'x509_san_dns:auth.example.com', trustAnchors: [issuer.pki.root], allowedVcts: [TEST_PID_VCT, 'urn:other:1'] });
}

describe('matchDcqlQuery (VP-5 query satisfaction, with dcql)', () => {
  it('is satisfied by a presentation with the claim paths and an allowed value', async () => {
    const match = matchDcqlQuery(query, { pid: [await verified({ family_name: 'Mustermann', address: { country: 'DE' } })] });
    expect(match.satisfied).toBe(true);
  });
  it('is not satisfied by a claim value outside values', async () => {
    const match = matchDcqlQuery(query, { pid: [await verified({ family_name: 'Mustermann', address: { country: 'FR' } })] });
    expect(match).toMatchObject({ satisfied: false, reason: 'not_satisfied' });
  });
  it('is not satisfied when a requested claim was not disclosed', async () => {
    const match = matchDcqlQuery(query, { pid: [await verified({ family_name: 'Mustermann', address: { country: 'DE' } }, { family_name: true })] });
    expect(match).toMatchObject({ satisfied: false, reason: 'not_satisfied' });
  });
  it('is not satisfied by another credential type (vct_values)', async () => {
    const match = matchDcqlQuery(query, { pid: [await verified({ family_name: 'Mustermann', address: { country: 'DE' } }, undefined, 'urn:other:1')] });
    expect(match).toMatchObject({ satisfied: false, reason: 'not_satisfied' });
  });
  it('is not satisfied when the required credential is missing', () => {
    expect(matchDcqlQuery(query, {})).toMatchObject({ satisfied: false });
  });
  it('refuses presentations under a credential query id the query does not have', async () => {
    const match = matchDcqlQuery(query, { other: [await verified({ family_name: 'M', address: { country: 'DE' } })] });
    expect(match).toMatchObject({ satisfied: false, reason: 'unknown_credential_query' });
  });
  it('refuses an invalid query (configuration error)', () => {
    expect(() => parseDcqlQuery({ credentials: [] })).toThrow(DcqlQueryError);
    expect(() => parseDcqlQuery({ credentials: [{ id: 'a', format: 'dc+sd-jwt', meta: { vct_values: ['x'] } }, { id: 'a', format: 'dc+sd-jwt', meta: { vct_values: ['x'] } }] })).toThrow(DcqlQueryError);
  });
});

describe('matchDcqlQuery for mso_mdoc (OpenID4VP 1.0 doctype_value and [namespace, element] paths)', () => {
  const transcript = { kind: 'openid4vp', clientId: 'x509_san_dns:auth.example.com', nonce: 'n-mdoc-1', responseUri: 'https://auth.example.com/openid4vp/response' } as const;
  const mdlQuery = {
    credentials: [
      {
        id: 'mdl',
        format: 'mso_mdoc',
        meta: { doctype_value: MDL_DOCTYPE },
        claims: [{ path: [MDL_NAMESPACE, 'family_name'] }, { path: [MDL_NAMESPACE, 'age_over_18'], values: [true] }],
      },
    ],
  };
  let mdocIssuer: Awaited<ReturnType<typeof createTestMdocIssuer>>;
  const mdocHolder = createTestMdocHolder();

  beforeAll(async () => {
    mdocIssuer = await createTestMdocIssuer();
  });

  /** Issues, presents and verifies an mdoc for real, so DCQL sees what verifyMdocPresentation returns. */
  async function verifiedMdoc(elements: Record<string, unknown>, disclose: readonly string[], docType = MDL_DOCTYPE): Promise<VerifiedMdoc> {
    const issued = await mdocIssuer.issue({ devicePublicJwk: mdocHolder.devicePublicJwk, elements, docType });
    const vp = await mdocHolder.present({ issuerSigned: issued, transcript, docType, disclose: { [MDL_NAMESPACE]: disclose } });
    const result = await verifyMdocPresentation(vp, { docType, sessionTranscript: transcript, trustAnchors: [mdocIssuer.iacaRoot] });
    if (!result.ok) throw new Error(`refused: ${result.refusal.code}`);
    return result.mdoc;
  }

  it('is satisfied by the disclosed elements with an allowed value', async () => {
    const mdoc = await verifiedMdoc({ family_name: 'Mustermann', age_over_18: true }, ['family_name', 'age_over_18']);
    expect(matchDcqlQuery(mdlQuery, { mdl: [mdoc] })).toMatchObject({ satisfied: true });
  });
  it('is not satisfied by a value outside values', async () => {
    const mdoc = await verifiedMdoc({ family_name: 'Mustermann', age_over_18: false }, ['family_name', 'age_over_18']);
    expect(matchDcqlQuery(mdlQuery, { mdl: [mdoc] })).toMatchObject({ satisfied: false, reason: 'not_satisfied' });
  });
  it('is not satisfied when a requested element was not disclosed', async () => {
    const mdoc = await verifiedMdoc({ family_name: 'Mustermann', age_over_18: true }, ['family_name']);
    expect(matchDcqlQuery(mdlQuery, { mdl: [mdoc] })).toMatchObject({ satisfied: false, reason: 'not_satisfied' });
  });
  it('is not satisfied by another doctype', async () => {
    const mdoc = await verifiedMdoc({ family_name: 'Mustermann', age_over_18: true }, ['family_name', 'age_over_18'], 'org.example.other.1');
    expect(matchDcqlQuery(mdlQuery, { mdl: [mdoc] })).toMatchObject({ satisfied: false, reason: 'not_satisfied' });
  });
  it('is not satisfied by an mdoc under an SD-JWT VC credential query, nor by an SD-JWT VC under an mdoc one', async () => {
    const mdoc = await verifiedMdoc({ family_name: 'Mustermann', age_over_18: true }, ['family_name', 'age_over_18']);
    expect(matchDcqlQuery(query, { pid: [mdoc] })).toMatchObject({ satisfied: false });
    expect(matchDcqlQuery(mdlQuery, { mdl: [await verified({ family_name: 'Mustermann', address: { country: 'DE' } })] })).toMatchObject({ satisfied: false });
  });
  it('decides credential_sets across formats: either the PID (SD-JWT VC) or the mDL', async () => {
    const either = { credentials: [...query.credentials, ...mdlQuery.credentials], credential_sets: [{ options: [['pid'], ['mdl']] }] };
    const mdoc = await verifiedMdoc({ family_name: 'Mustermann', age_over_18: true }, ['family_name', 'age_over_18']);
    expect(matchDcqlQuery(either, { mdl: [mdoc] })).toMatchObject({ satisfied: true });
    expect(matchDcqlQuery(either, { pid: [await verified({ family_name: 'Mustermann', address: { country: 'DE' } })] })).toMatchObject({ satisfied: true });
    expect(matchDcqlQuery(either, {})).toMatchObject({ satisfied: false });
  });
});
