import { CoseKey, DeviceAuthentication, DeviceResponse, DeviceSignature, Header, ProtectedHeaders, SessionTranscript, UnprotectedHeaders } from '@owf/mdoc';
import { createTestMdocHolder, createTestMdocIssuer, MDL_DOCTYPE, type TestMdocHolder, type TestMdocIssuer } from '@fpa/verifier/testing';
import { createMdocContext } from './mdoc-context';
import { algorithmIsProtected, verifyMdocPresentation } from './verify-mdoc-presentation';

// The known gap: @owf/mdoc takes `alg` from the unprotected header when the protected one has none.
const transcript = { kind: 'openid4vp', clientId: 'x509_san_dns:verifier.example', nonce: 'p8Lq2Zr5Tx9Wv3Ny', responseUri: 'https://verifier.example/oid4vp/response' } as const;
const ES256 = -7;

let issuer: TestMdocIssuer;
let holder: TestMdocHolder;
let honest: string;

beforeAll(async () => {
  issuer = await createTestMdocIssuer();
  holder = createTestMdocHolder();
  honest = await holder.present({ issuerSigned: await issuer.issue({ devicePublicJwk: holder.devicePublicJwk }), transcript });
});

/**
 * The honest response with its DeviceSignature made again by the holder's key over the same DeviceAuthentication —
 * a valid signature — with `alg` in the protected header or only in the unprotected one.
 */
async function resigned(algIn: 'protected' | 'unprotected'): Promise<string> {
  const ctx = createMdocContext();
  const response = DeviceResponse.decode(new Uint8Array(Buffer.from(honest, 'base64url')));
  const [document] = response.documents ?? [];
  const sessionTranscript = await SessionTranscript.forOid4Vp({ clientId: transcript.clientId, nonce: transcript.nonce, responseUri: transcript.responseUri }, ctx);
  const detachedPayload = DeviceAuthentication.create({ sessionTranscript, docType: MDL_DOCTYPE, deviceNamespaces: document.deviceSigned.deviceNamespaces }).encode({ asDataItem: true });
  const algHeader = new Map([[Header.Algorithm, ES256]]);
  const signature = await DeviceSignature.create(
    {
      protectedHeaders: ProtectedHeaders.create({ protectedHeaders: algIn === 'protected' ? algHeader : new Map() }),
      unprotectedHeaders: UnprotectedHeaders.create({ unprotectedHeaders: algIn === 'unprotected' ? algHeader : new Map() }),
      detachedPayload,
      signingKey: CoseKey.fromJwk(holder.devicePrivateJwk),
    },
    ctx,
  );
  // Swap the signature inside the decoded structure and encode the response again.
  (document.deviceSigned.deviceAuth as unknown as { structure: Map<string, unknown> }).structure.set('deviceSignature', signature);
  return Buffer.from(response.encode()).toString('base64url');
}

const expectations = () => ({ docType: MDL_DOCTYPE, sessionTranscript: transcript, trustAnchors: [issuer.iacaRoot] });

describe('mdoc COSE alg must be protected (RFC 9052 §3.1)', () => {
  it('accepts the re-made DeviceSignature with alg protected (the re-making itself is sound)', async () => {
    expect(await verifyMdocPresentation(await resigned('protected'), expectations())).toMatchObject({ ok: true });
  });

  it('refuses a DeviceSignature whose alg is only in the unprotected header', async () => {
    const vp = await resigned('unprotected');
    // @owf/mdoc alone would accept it: its signature check passes with the unprotected alg.
    const ctx = createMdocContext();
    const failures: string[] = [];
    const response = DeviceResponse.decode(new Uint8Array(Buffer.from(vp, 'base64url')));
    const sessionTranscript = await SessionTranscript.forOid4Vp({ clientId: transcript.clientId, nonce: transcript.nonce, responseUri: transcript.responseUri }, ctx);
    await response.verify({ sessionTranscript, trustedCertificates: [issuer.iacaRoot], onCheck: (c: { status: string; check: string }) => void (c.status === 'FAILED' && failures.push(c.check)) }, ctx);
    expect(failures).toEqual([]);
    expect(await verifyMdocPresentation(vp, expectations())).toEqual({ ok: false, refusal: { code: 'device_signature', reason: expect.stringContaining('protected header') } });
  });

  it('algorithmIsProtected reads the protected header only (IssuerAuth and DeviceSignature alike)', async () => {
    const response = DeviceResponse.decode(new Uint8Array(Buffer.from(honest, 'base64url')));
    const [document] = response.documents ?? [];
    expect(algorithmIsProtected(document.issuerSigned.issuerAuth)).toBe(true);
    const unprotectedOnly = DeviceResponse.decode(new Uint8Array(Buffer.from(await resigned('unprotected'), 'base64url')));
    expect(algorithmIsProtected(unprotectedOnly.documents![0].deviceSigned.deviceAuth.deviceSignature!)).toBe(false);
    expect(algorithmIsProtected({ protectedHeaders: { headers: new Map() } })).toBe(false);
    expect(algorithmIsProtected({ protectedHeaders: {} })).toBe(false);
  });
});
