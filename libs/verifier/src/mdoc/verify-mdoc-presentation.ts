import { X509Certificate } from 'node:crypto';
import type { DeviceResponse, Document, VerificationAssessment } from '@owf/mdoc';
import { mdocLibrary } from '../format-libraries';
import { createMdocContext } from './mdoc-context';
import { buildMdocSessionTranscript, SessionTranscriptInputError, type MdocSessionTranscriptInput } from './session-transcript';

/**
 * Verifies one mdoc presentation (ISO 18013-5 DeviceResponse, base64url, as an OpenID4VP 1.0 vp_token entry):
 * issuer signature with the document signer chained to the IACA trust anchors, signed validity, value digests of
 * every disclosed element, the device signature over the OpenID4VP / DC API SessionTranscript (holder binding and
 * nonce, VP-5) and the expected docType. @owf/mdoc runs the checks; this file maps them to typed refusals.
 */
export interface MdocExpectations {
  readonly docType: string;
  readonly sessionTranscript: MdocSessionTranscriptInput;
  /** IACA root certificates (DER). */
  readonly trustAnchors: readonly Uint8Array[];
  readonly now?: Date;
  /** Clock skew tolerated on validFrom / validUntil (default 30 s). */
  readonly skewSeconds?: number;
}

export type MdocRefusalCode =
  | 'malformed'
  | 'untrusted_issuer'
  | 'expired'
  | 'digest_mismatch'
  | 'device_signature'
  | 'session_transcript'
  | 'doc_type';

export interface MdocRefusal {
  readonly code: MdocRefusalCode;
  readonly reason: string;
}

export interface VerifiedMdoc {
  /** The OpenID4VP format identifier, so DCQL matching (matchDcqlQuery) can take this result as is. */
  readonly format: 'mso_mdoc';
  readonly docType: string;
  /** namespace → element identifier → value, only what the holder disclosed (and the issuer signed). */
  readonly namespaces: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly issuer: { readonly subject: string; readonly issuer: string; readonly serialNumber: string; readonly thumbprint: string };
  readonly validity: { readonly signed: Date; readonly validFrom: Date; readonly validUntil: Date };
  /** The device (holder) key the MSO binds, as a public JWK. */
  readonly deviceKey: Readonly<Record<string, unknown>>;
}

export type MdocVerification = { readonly ok: true; readonly mdoc: VerifiedMdoc } | { readonly ok: false; readonly refusal: MdocRefusal };

/** Refusals in the order they are reported when several checks fail: trust first, then what trust vouches for. */
const PRIORITY: readonly MdocRefusalCode[] = ['malformed', 'untrusted_issuer', 'expired', 'digest_mismatch', 'device_signature', 'doc_type'];

function refusalFor(failure: VerificationAssessment): MdocRefusalCode {
  switch (failure.category) {
    case 'ISSUER_AUTH':
      return failure.check.includes('valid at the time of verification') ? 'expired' : 'untrusted_issuer';
    case 'DATA_INTEGRITY':
      return failure.check.includes('calculated digest') || failure.check.includes('digests for namespace') ? 'digest_mismatch' : 'untrusted_issuer';
    case 'DEVICE_AUTH':
      return 'device_signature';
    default:
      return 'malformed';
  }
}

const refuse = (code: MdocRefusalCode, reason: string): MdocVerification => ({ ok: false, refusal: { code, reason } });

const BASE64URL = /^[A-Za-z0-9_-]+$/;

function decode(deviceResponse: string): DeviceResponse | string {
  if (!BASE64URL.test(deviceResponse)) return 'the DeviceResponse is not base64url';
  try {
    return mdocLibrary().DeviceResponse.decode(new Uint8Array(Buffer.from(deviceResponse, 'base64url')));
  } catch (err) {
    return `the DeviceResponse is not a valid ISO 18013-5 structure: ${err instanceof Error ? err.message.slice(0, 200) : 'decode error'}`;
  }
}

function describe(document: Document): VerifiedMdoc {
  const { issuerSigned } = document;
  const mso = issuerSigned.issuerAuth.mobileSecurityObject;
  const namespaces: Record<string, Record<string, unknown>> = {};
  for (const ns of issuerSigned.issuerNamespaces.issuerNamespaces.keys()) namespaces[ns] = issuerSigned.getPrettyClaims(ns) ?? {};
  const ds = new X509Certificate(Buffer.from(issuerSigned.issuerAuth.certificate));
  const { d: _d, ...deviceKey } = mso.deviceKeyInfo.deviceKey.jwk;
  return {
    format: 'mso_mdoc',
    docType: mso.docType,
    namespaces,
    issuer: {
      subject: ds.subject.replace(/\n/g, ', '),
      issuer: ds.issuer.replace(/\n/g, ', '),
      serialNumber: ds.serialNumber,
      thumbprint: ds.fingerprint256.replace(/:/g, '').toLowerCase(),
    },
    validity: { signed: mso.validityInfo.signed, validFrom: mso.validityInfo.validFrom, validUntil: mso.validityInfo.validUntil },
    deviceKey,
  };
}

/** True when a COSE_Sign1 carries `alg` (label 1) in its protected header. */
export function algorithmIsProtected(sign1: { readonly protectedHeaders: { readonly headers?: ReadonlyMap<unknown, unknown> } }): boolean {
  return sign1.protectedHeaders.headers?.get(mdocLibrary().Header.Algorithm) !== undefined;
}

export async function verifyMdocPresentation(deviceResponse: string, expectations: MdocExpectations): Promise<MdocVerification> {
  const ctx = createMdocContext();
  let sessionTranscript;
  try {
    sessionTranscript = await buildMdocSessionTranscript(expectations.sessionTranscript, ctx);
  } catch (err) {
    if (err instanceof SessionTranscriptInputError) return refuse('session_transcript', err.message);
    throw err;
  }
  const response = decode(deviceResponse);
  if (typeof response === 'string') return refuse('malformed', response);
  const documents = response.documents ?? [];
  // One DCQL credential query answers with one presentation: a DeviceResponse carrying one document.
  if (documents.length !== 1) return refuse('malformed', `the DeviceResponse must carry exactly one document, not ${documents.length}`);
  const [document] = documents;
  if (!document.deviceSigned.deviceAuth.deviceSignature) {
    return refuse('device_signature', 'the document has no deviceSignature (deviceMac needs a reader key, which OpenID4VP does not have)');
  }

  // @owf/mdoc reads `alg` from the protected header and, failing that, from the unprotected one, which nothing
  // signs (RFC 9052 §3.1: alg is protected where changing it is an attack; ISO 18013-5 puts it there). We don't.
  if (!algorithmIsProtected(document.issuerSigned.issuerAuth)) return refuse('untrusted_issuer', 'the IssuerAuth alg is not in the protected header');
  if (!algorithmIsProtected(document.deviceSigned.deviceAuth.deviceSignature)) return refuse('device_signature', 'the DeviceSignature alg is not in the protected header');

  const failures: VerificationAssessment[] = [];
  try {
    await response.verify(
      {
        sessionTranscript,
        trustedCertificates: [...expectations.trustAnchors],
        now: expectations.now ?? new Date(),
        skewSeconds: expectations.skewSeconds ?? 30,
        onCheck: (item: VerificationAssessment) => {
          if (item.status === 'FAILED') failures.push(item);
        },
      },
      ctx,
    );
  } catch (err) {
    return refuse('malformed', `the mdoc could not be checked: ${err instanceof Error ? err.message.slice(0, 200) : 'error'}`);
  }
  const refusals = failures.map((failure) => ({ code: refusalFor(failure), reason: failure.reason ?? failure.check }));
  for (const code of PRIORITY) {
    const found = refusals.find((r) => r.code === code);
    if (found) return refuse(found.code, found.reason);
  }

  const mso = document.issuerSigned.issuerAuth.mobileSecurityObject;
  // The Document's docType is not signed; the MSO's is. Both must be the one asked for.
  if (mso.docType !== expectations.docType || document.docType !== mso.docType) {
    return refuse('doc_type', `expected docType ${expectations.docType}, got ${mso.docType}`);
  }
  return { ok: true, mdoc: describe(document) };
}
