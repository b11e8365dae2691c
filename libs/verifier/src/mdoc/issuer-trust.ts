import { X509Certificate } from 'node:crypto';
import { validateCertificateChain, X5cChainError } from '../trust/x5c-chain';

/**
 * Issuer trust for mdoc (issue 11, VP-5 "trust policy"): the document signer certificate carried in
 * IssuerAuth's x5chain must chain to one of the configured IACA trust anchors. The walk is the one
 * `x5c` uses (trust/x5c-chain.ts); this file only parses COSE's DER certificates and names the failure.
 */
export class IssuerTrustError extends Error {}

function parse(der: Uint8Array, what: string): X509Certificate {
  try {
    return new X509Certificate(Buffer.from(der));
  } catch {
    throw new IssuerTrustError(`${what} is not a DER X.509 certificate`);
  }
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
  try {
    return validateCertificateChain(chain, anchors, input.now).leaf;
  } catch (e) {
    if (e instanceof X5cChainError) throw new IssuerTrustError(e.message);
    throw e;
  }
}
