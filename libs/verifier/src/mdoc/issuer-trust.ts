import { X509Certificate } from 'node:crypto';

/**
 * Issuer trust for mdoc (issue 11, VP-5 "trust policy"): the document signer certificate carried in
 * IssuerAuth's x5chain must chain to one of the configured IACA trust anchors. Node's X509Certificate does the
 * signature checks; this file only walks the chain and applies the validity dates.
 */
export class IssuerTrustError extends Error {}

function parse(der: Uint8Array, what: string): X509Certificate {
  try {
    return new X509Certificate(Buffer.from(der));
  } catch {
    throw new IssuerTrustError(`${what} is not a DER X.509 certificate`);
  }
}

function assertValidAt(cert: X509Certificate, now: Date, what: string): void {
  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  if (now < notBefore || now > notAfter) {
    throw new IssuerTrustError(`${what} (${cert.subject.replace(/\n/g, ', ')}) is not valid at ${now.toISOString()}`);
  }
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return parent.ca && child.checkIssued(parent) && child.verify(parent.publicKey);
}

/**
 * Validates `x5chain` (leaf first, as in COSE x5chain) against `trustAnchors` at `now`. The chain ends either with
 * an anchor itself or with a certificate issued by an anchor; every link is signed by the next one, and every
 * certificate (anchor included) is within its validity period. Throws IssuerTrustError otherwise.
 */
export function verifyIssuerChain(input: { x5chain: readonly Uint8Array[]; trustAnchors: readonly Uint8Array[]; now: Date }): X509Certificate {
  if (input.x5chain.length === 0) throw new IssuerTrustError('IssuerAuth carries no x5chain');
  if (input.trustAnchors.length === 0) throw new IssuerTrustError('no IACA trust anchor is configured');
  const chain = input.x5chain.map((der, i) => parse(der, `x5chain[${i}]`));
  const anchors = input.trustAnchors.map((der, i) => parse(der, `trust anchor ${i}`));
  chain.forEach((cert, i) => assertValidAt(cert, input.now, i === 0 ? 'the document signer certificate' : `x5chain[${i}]`));
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!issuedBy(chain[i], chain[i + 1])) throw new IssuerTrustError(`x5chain[${i}] is not issued by x5chain[${i + 1}]`);
  }
  const last = chain[chain.length - 1];
  const anchor = anchors.find((a) => a.fingerprint256 === last.fingerprint256) ?? anchors.find((a) => issuedBy(last, a));
  if (!anchor) throw new IssuerTrustError('the document signer certificate does not chain to a configured IACA trust anchor');
  assertValidAt(anchor, input.now, 'the IACA trust anchor');
  return chain[0];
}
