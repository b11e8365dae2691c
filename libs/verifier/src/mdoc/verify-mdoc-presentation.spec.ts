import { createTestMdocHolder, createTestMdocIssuer, MDL_DOCTYPE, MDL_NAMESPACE, type TestMdocHolder, type TestMdocIssuer } from '@fpa/verifier/testing';
import type { MdocSessionTranscriptInput } from './session-transcript';
import { verifyMdocPresentation, type MdocExpectations } from './verify-mdoc-presentation';

// Issue 11 (mdoc slice), VP-5: a real mDL from the test issuer, presented by the test wallet, checked by the verifier.
const DAY = 24 * 60 * 60 * 1000;
const openid4vp: MdocSessionTranscriptInput = {
  kind: 'openid4vp',
  clientId: 'x509_san_dns:verifier.example',
  nonce: 'hK3n9dQm2vX7pL0sT4wY8bZ1',
  responseUri: 'https://verifier.example/oid4vp/response',
};
const dcApi: MdocSessionTranscriptInput = { kind: 'dc_api', origin: 'https://app.example', nonce: 'q8Wc1Vb2Nx3Mz4La5Ks6Jd7' };

let issuer: TestMdocIssuer;
let holder: TestMdocHolder;
let credential: string;

const expectations = (overrides: Partial<MdocExpectations> = {}): MdocExpectations => ({
  docType: MDL_DOCTYPE,
  sessionTranscript: openid4vp,
  trustAnchors: [issuer.iacaRoot],
  ...overrides,
});

beforeAll(async () => {
  issuer = await createTestMdocIssuer();
  holder = createTestMdocHolder();
  credential = await issuer.issue({ devicePublicJwk: holder.devicePublicJwk });
});

describe('verifyMdocPresentation (issue 11, VP-5)', () => {
  it('accepts an mDL presented over OpenID4VP (direct_post) and returns only the disclosed elements', async () => {
    const vp = await holder.present({ issuerSigned: credential, transcript: openid4vp });
    const result = await verifyMdocPresentation(vp, expectations());
    if (!result.ok) throw new Error(`refused: ${result.refusal.code} ${result.refusal.reason}`);
    expect(result.mdoc.docType).toBe(MDL_DOCTYPE);
    expect(result.mdoc.namespaces).toEqual({ [MDL_NAMESPACE]: { family_name: 'Mustermann', given_name: 'Erika', age_over_18: true } });
    expect(result.mdoc.issuer.subject).toContain('CN=Test Document Signer');
    expect(result.mdoc.issuer.issuer).toContain('CN=Test IACA');
    expect(result.mdoc.deviceKey).toEqual(expect.objectContaining({ kty: 'EC', crv: 'P-256', x: holder.devicePublicJwk.x }));
    expect(result.mdoc.deviceKey).not.toHaveProperty('d');
  });

  it('accepts an mDL presented over the DC API (OpenID4VPDCAPIHandover), with an encrypted-response thumbprint', async () => {
    const transcript = { ...dcApi, jwkThumbprint: new Uint8Array(32).fill(7) };
    const vp = await holder.present({ issuerSigned: credential, transcript, disclose: { [MDL_NAMESPACE]: ['document_number'] } });
    const result = await verifyMdocPresentation(vp, expectations({ sessionTranscript: transcript }));
    if (!result.ok) throw new Error(`refused: ${result.refusal.code} ${result.refusal.reason}`);
    expect(result.mdoc.namespaces).toEqual({ [MDL_NAMESPACE]: { document_number: 'D1234567' } });
  });

  it('untrusted_issuer: a document signer from another IACA', async () => {
    const other = await createTestMdocIssuer({ name: 'Rogue' });
    const vp = await holder.present({ issuerSigned: await other.issue({ devicePublicJwk: holder.devicePublicJwk }), transcript: openid4vp });
    const result = await verifyMdocPresentation(vp, expectations());
    expect(result).toEqual({ ok: false, refusal: expect.objectContaining({ code: 'untrusted_issuer' }) });
    // The same presentation is accepted once that IACA is trusted: the refusal is about trust, not the mdoc.
    expect(await verifyMdocPresentation(vp, expectations({ trustAnchors: [other.iacaRoot] }))).toEqual(expect.objectContaining({ ok: true }));
  });

  it('untrusted_issuer: no trust anchor configured', async () => {
    const vp = await holder.present({ issuerSigned: credential, transcript: openid4vp });
    expect(await verifyMdocPresentation(vp, expectations({ trustAnchors: [] }))).toEqual({
      ok: false,
      refusal: expect.objectContaining({ code: 'untrusted_issuer' }),
    });
  });

  it('expired: validUntil has passed (and not-yet-valid validFrom is refused the same way)', async () => {
    const signed = new Date(Date.now() - 30 * DAY);
    const expired = await issuer.issue({ devicePublicJwk: holder.devicePublicJwk, signed, validFrom: signed, validUntil: new Date(Date.now() - DAY) });
    const vp = await holder.present({ issuerSigned: expired, transcript: openid4vp });
    expect(await verifyMdocPresentation(vp, expectations())).toEqual({ ok: false, refusal: expect.objectContaining({ code: 'expired' }) });
    const future = await issuer.issue({ devicePublicJwk: holder.devicePublicJwk, validFrom: new Date(Date.now() + DAY) });
    const early = await holder.present({ issuerSigned: future, transcript: openid4vp });
    expect(await verifyMdocPresentation(early, expectations())).toEqual({ ok: false, refusal: expect.objectContaining({ code: 'expired' }) });
  });

  it('digest_mismatch: a disclosed element value altered after issuance', async () => {
    const vp = await holder.present({ issuerSigned: credential, transcript: openid4vp });
    const bytes = Buffer.from(vp, 'base64url');
    const at = bytes.indexOf('Mustermann');
    expect(at).toBeGreaterThan(0);
    bytes.write('Mustermenn', at); // same length: the CBOR stays well-formed, only the digest no longer matches
    const result = await verifyMdocPresentation(bytes.toString('base64url'), expectations());
    expect(result).toEqual({ ok: false, refusal: expect.objectContaining({ code: 'digest_mismatch' }) });
  });

  it('device_signature: the credential presented with another key than the one it is bound to', async () => {
    const thief = createTestMdocHolder();
    const vp = await holder.present({ issuerSigned: credential, transcript: openid4vp, signWith: thief });
    expect(await verifyMdocPresentation(vp, expectations())).toEqual({ ok: false, refusal: expect.objectContaining({ code: 'device_signature' }) });
    // Control: the thief's own credential, same transcript, is accepted.
    const own = await issuer.issue({ devicePublicJwk: thief.devicePublicJwk });
    expect(await verifyMdocPresentation(await thief.present({ issuerSigned: own, transcript: openid4vp }), expectations())).toEqual(expect.objectContaining({ ok: true }));
  });

  it.each([
    ['another nonce', { ...openid4vp, nonce: 'another-nonce' }],
    ['another client_id', { ...openid4vp, clientId: 'x509_san_dns:evil.example' }],
    ['another response_uri', { ...openid4vp, responseUri: 'https://evil.example/response' }],
    ['the DC API handover instead', { ...dcApi, nonce: openid4vp.nonce }],
  ] as const)('device_signature: signed over the transcript of %s (not ours)', async (_name, walletTranscript) => {
    const vp = await holder.present({ issuerSigned: credential, transcript: walletTranscript });
    expect(await verifyMdocPresentation(vp, expectations())).toEqual({ ok: false, refusal: expect.objectContaining({ code: 'device_signature' }) });
    // Control: the presentation is sound for the transcript the wallet used, so the refusal is the binding.
    expect(await verifyMdocPresentation(vp, expectations({ sessionTranscript: walletTranscript }))).toEqual(expect.objectContaining({ ok: true }));
  });

  it('device_signature: over the DC API, a presentation made for another origin', async () => {
    const vp = await holder.present({ issuerSigned: credential, transcript: { ...dcApi, origin: 'https://evil.example' } });
    const result = await verifyMdocPresentation(vp, expectations({ sessionTranscript: dcApi }));
    expect(result).toEqual({ ok: false, refusal: expect.objectContaining({ code: 'device_signature' }) });
  });

  it('session_transcript: expectations that cannot form an OpenID4VP transcript (empty nonce) are refused', async () => {
    const vp = await holder.present({ issuerSigned: credential, transcript: openid4vp });
    const result = await verifyMdocPresentation(vp, expectations({ sessionTranscript: { ...openid4vp, nonce: '' } }));
    expect(result).toEqual({ ok: false, refusal: expect.objectContaining({ code: 'session_transcript' }) });
  });

  it('doc_type: a genuine credential of another docType', async () => {
    const pid = await issuer.issue({ devicePublicJwk: holder.devicePublicJwk, docType: 'eu.europa.ec.eudi.pid.1', namespace: 'eu.europa.ec.eudi.pid.1', elements: { family_name: 'Mustermann' } });
    const vp = await holder.present({ issuerSigned: pid, transcript: openid4vp, docType: 'eu.europa.ec.eudi.pid.1', disclose: { 'eu.europa.ec.eudi.pid.1': ['family_name'] } });
    expect(await verifyMdocPresentation(vp, expectations({ docType: 'eu.europa.ec.eudi.pid.1' }))).toEqual(expect.objectContaining({ ok: true }));
    expect(await verifyMdocPresentation(vp, expectations())).toEqual({ ok: false, refusal: expect.objectContaining({ code: 'doc_type' }) });
  });

  it.each([
    ['not base64url', 'a+b/c='],
    ['not CBOR', Buffer.from('hello world').toString('base64url')],
  ])('malformed: %s', async (_name, vp) => {
    expect(await verifyMdocPresentation(vp, expectations())).toEqual({ ok: false, refusal: expect.objectContaining({ code: 'malformed' }) });
  });
});
