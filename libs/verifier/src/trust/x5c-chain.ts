import { X509Certificate, type KeyObject } from 'node:crypto';

/** Why an `x5c` chain was not accepted (all end as `untrusted_issuer` for the credential). */
export type X5cChainFailure = 'malformed' | 'empty' | 'too_long' | 'not_valid_now' | 'broken_chain' | 'not_a_ca' | 'no_trust_anchor';

export class X5cChainError extends Error {
  constructor(
    readonly failure: X5cChainFailure,
    message: string,
  ) {
    super(message);
    this.name = 'X5cChainError';
  }
}

export interface ValidatedX5cChain {
  /** The end-entity certificate (`x5c[0]`): its key verifies the credential's signature. */
  readonly leaf: X509Certificate;
  readonly publicKey: KeyObject;
  /** The configured anchor the chain ends at. */
  readonly anchor: X509Certificate;
}

/** Chains longer than this are refused before any parsing work (root + intermediates + leaf is 2-4 in practice). */
export const MAX_X5C_LENGTH = 5;

/**
 * Validates an `x5c` header (RFC 7515 §4.1.6: base64 — not base64url — DER, leaf first) against
 * configured trust anchors (VP-5 trust policy), with Node's X509Certificate: every certificate valid
 * at `now`, each issued and signed by the next, every issuer a CA, and the last one either a trust
 * anchor itself or issued and signed by one. The anchor may be left out of `x5c` (it usually is).
 */
export function validateX5cChain(chain: unknown, anchors: readonly X509Certificate[], now: Date): ValidatedX5cChain {
  if (!Array.isArray(chain) || chain.length === 0) throw new X5cChainError('empty', 'x5c must be a non-empty array');
  if (chain.length > MAX_X5C_LENGTH) throw new X5cChainError('too_long', `x5c holds more than ${MAX_X5C_LENGTH} certificates`);
  return validateCertificateChain(chain.map(parseCertificate), anchors, now);
}

/**
 * The chain walk itself, on parsed certificates (leaf first) — shared by `x5c` (JOSE, base64) and
 * mdoc's COSE `x5chain` (DER): every certificate valid at `now`, each issued and signed by the next
 * (a CA), the last one an anchor or issued by one, the anchor valid too. Throws X5cChainError.
 */
export function validateCertificateChain(certs: readonly X509Certificate[], anchors: readonly X509Certificate[], now: Date): ValidatedX5cChain {
  for (const cert of certs) {
    if (!validAt(cert, now)) throw new X5cChainError('not_valid_now', `certificate ${cert.subject} is not valid at ${now.toISOString()}`);
  }
  for (let i = 0; i + 1 < certs.length; i++) {
    assertIssued(certs[i], certs[i + 1]);
  }
  const last = certs[certs.length - 1];
  const anchor = anchors.find((a) => a.fingerprint256 === last.fingerprint256) ?? anchors.find((a) => issuedBy(last, a));
  if (!anchor) throw new X5cChainError('no_trust_anchor', 'x5c does not chain to a configured trust anchor');
  if (!validAt(anchor, now)) throw new X5cChainError('not_valid_now', 'the trust anchor is not valid now');
  if (anchor.fingerprint256 !== last.fingerprint256) assertIssued(last, anchor);
  return { leaf: certs[0], publicKey: certs[0].publicKey, anchor };
}

/** Parses PEM trust-anchor certificates (configuration); throws on anything that is not one. */
export function parseTrustAnchors(pems: readonly string[]): X509Certificate[] {
  return pems.map((pem) => new X509Certificate(pem));
}

function parseCertificate(entry: unknown): X509Certificate {
  // Standard base64 only (RFC 7515 §4.1.6); a bounded size keeps hostile headers cheap.
  if (typeof entry !== 'string' || entry.length > 16_384 || !/^[A-Za-z0-9+/]+={0,2}$/.test(entry)) {
    throw new X5cChainError('malformed', 'x5c entries must be base64 DER certificates');
  }
  try {
    return new X509Certificate(Buffer.from(entry, 'base64'));
  } catch {
    throw new X5cChainError('malformed', 'x5c entry is not a certificate');
  }
}

function validAt(cert: X509Certificate, now: Date): boolean {
  return new Date(cert.validFrom).getTime() <= now.getTime() && now.getTime() <= new Date(cert.validTo).getTime();
}

function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  return issuer.ca && cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}

function assertIssued(cert: X509Certificate, issuer: X509Certificate): void {
  if (!issuer.ca) throw new X5cChainError('not_a_ca', `${issuer.subject} is not a CA certificate`);
  if (!cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) {
    throw new X5cChainError('broken_chain', `${cert.subject} is not issued by ${issuer.subject}`);
  }
}
