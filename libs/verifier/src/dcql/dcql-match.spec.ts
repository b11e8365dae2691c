import { TEST_PID_VCT, TestHolder, TestSdJwtIssuer } from '@fpa/verifier/testing';
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
