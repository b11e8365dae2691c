import 'reflect-metadata';
import { webcrypto, type webcrypto as WebCrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { IssuerTrustError, verifyIssuerChain } from './issuer-trust';

// Issue 11 (mdoc slice): the document signer must chain to a configured IACA anchor (VP-5 trust policy).
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 24 * 60 * 60 * 1000;
const now = new Date();

type Issued = { der: Uint8Array; keys: WebCrypto.CryptoKeyPair; name: string };
let serial = 1;

async function cert(name: string, parent: Issued | null, opts: { ca: boolean; notAfter?: Date }): Promise<Issued> {
  const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as WebCrypto.CryptoKeyPair;
  const extensions = opts.ca ? [new x509.BasicConstraintsExtension(true, undefined, true)] : [];
  const common = { serialNumber: String(serial++).padStart(2, '0'), notBefore: new Date(now.getTime() - DAY), notAfter: opts.notAfter ?? new Date(now.getTime() + DAY), signingAlgorithm: EC, extensions };
  const c = parent
    ? await x509.X509CertificateGenerator.create({ ...common, subject: `C=US, CN=${name}`, issuer: `C=US, CN=${parent.name}`, publicKey: keys.publicKey, signingKey: parent.keys.privateKey })
    : await x509.X509CertificateGenerator.createSelfSigned({ ...common, name: `C=US, CN=${name}`, keys });
  return { der: new Uint8Array(c.rawData), keys, name };
}

describe('verifyIssuerChain (issue 11, IACA trust)', () => {
  it('accepts a document signer issued by the anchor, directly or through an intermediate, with or without the anchor in x5chain', async () => {
    const root = await cert('IACA', null, { ca: true });
    const ds = await cert('DS', root, { ca: false });
    expect(verifyIssuerChain({ x5chain: [ds.der], trustAnchors: [root.der], now }).subject).toContain('CN=DS');
    expect(() => verifyIssuerChain({ x5chain: [ds.der, root.der], trustAnchors: [root.der], now })).not.toThrow();
    const intermediate = await cert('Intermediate', root, { ca: true });
    const ds2 = await cert('DS2', intermediate, { ca: false });
    expect(() => verifyIssuerChain({ x5chain: [ds2.der, intermediate.der], trustAnchors: [root.der], now })).not.toThrow();
  });

  it('refuses another anchor, a broken link, an expired document signer and an issuer that is not a CA', async () => {
    const root = await cert('IACA', null, { ca: true });
    const other = await cert('Other IACA', null, { ca: true });
    const ds = await cert('DS', root, { ca: false });
    expect(() => verifyIssuerChain({ x5chain: [ds.der], trustAnchors: [other.der], now })).toThrow(IssuerTrustError);
    expect(() => verifyIssuerChain({ x5chain: [ds.der, other.der], trustAnchors: [other.der], now })).toThrow(/not issued by/);
    const expired = await cert('Old DS', root, { ca: false, notAfter: new Date(now.getTime() - 1000) });
    expect(() => verifyIssuerChain({ x5chain: [expired.der], trustAnchors: [root.der], now })).toThrow(/not valid at/);
    const notCa = await cert('Leaf as root', null, { ca: false });
    const underLeaf = await cert('DS under leaf', notCa, { ca: false });
    expect(() => verifyIssuerChain({ x5chain: [underLeaf.der], trustAnchors: [notCa.der], now })).toThrow(IssuerTrustError);
    expect(() => verifyIssuerChain({ x5chain: [], trustAnchors: [root.der], now })).toThrow(/no x5chain/);
    expect(() => verifyIssuerChain({ x5chain: [new Uint8Array([1, 2, 3])], trustAnchors: [root.der], now })).toThrow(/not a DER/);
  });
});
