import type { X509Certificate } from 'node:crypto';
import type { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { sdJwtVcLibrary } from '../format-libraries';
import { decodeJwtUnverified, importPublicJwk, JwtVerificationError, sha256, verifyJwsSignature, verifyJwt, type JWK, type JWTPayload, type VerificationKey } from '@fpa/crypto';
import { ISSUER_ALGS, resolveIssuerKey, type IssuerKeySource, type IssuerTrust } from '../issuer-metadata/issuer-key';
import type { StatusListChecker } from '../status/status-list.checker';
import { assertDisclosuresReferenced } from './disclosures';
import { verifyKeyBinding, type KeyBindingExpectations } from './key-binding';
import { PresentationRefusal, refuse } from './presentation-refusal';

export interface SdJwtPresentationExpectations extends Pick<KeyBindingExpectations, 'nonce' | 'audience' | 'transactionData' | 'transactionDataHashAlgs'>, IssuerTrust {
  /**
   * Token Status List checks (VP-5 revocation policy). Without a checker, a credential carrying `status` is
   * refused (`status_unsupported`): nothing is fetched unless the deployment configured it.
   */
  readonly statusLists?: StatusListChecker;
  /** Credential types (`vct`) the query asked for; anything else is refused. */
  readonly allowedVcts: readonly string[];
  readonly now?: Date;
  /** Default 60 s, for the issuer's `exp`/`nbf`/`iat` and the KB-JWT's `iat`. */
  readonly clockSkewSeconds?: number;
  /** How old a KB-JWT may be; default 300 s. */
  readonly maxKeyBindingAgeSeconds?: number;
}

export interface VerifiedSdJwtPresentation {
  readonly format: 'dc+sd-jwt';
  /** The `iss` of the credential (matched against the issuer certificate's SAN). */
  readonly issuer: string;
  readonly vct: string;
  /** The credential's claims with the disclosures applied (what the holder chose to show). */
  readonly claims: Readonly<Record<string, unknown>>;
  readonly holderKey: JWK;
  /** RFC 7638 thumbprint of `cnf.jwk`. */
  readonly holderKeyThumbprint: string;
  /** The `x5c` leaf when the issuer was trusted through a certificate chain (undefined with issuer metadata). */
  readonly issuerCertificate?: X509Certificate;
  /** How the issuer key was trusted: the `x5c` chain and its anchor, or the metadata issuer and `kid`. */
  readonly issuerKeySource: IssuerKeySource;
  readonly keyBinding: JWTPayload;
}

/** Issuer algorithms accepted (asymmetric only; `none` and HMAC never). */
export const SD_JWT_ISSUER_ALGS = ISSUER_ALGS;
export const MAX_PRESENTATION_LENGTH = 65_536;

/**
 * Verifies one SD-JWT VC presentation (`dc+sd-jwt`, VP-5): the issuer's signature with the key of
 * an `x5c` chain that ends at a trust anchor, `typ`, `vct`, `exp`/`nbf`/`iat`, every disclosure
 * referenced, and holder binding (required). Checks run in this module and again inside
 * @sd-jwt/sd-jwt-vc (signature, disclosures, nonce, sd_hash) as a second opinion. A refusal is a
 * {@link PresentationRefusal}; anything else thrown is a bug.
 */
export async function verifySdJwtPresentation(presentation: unknown, expectations: SdJwtPresentationExpectations): Promise<VerifiedSdJwtPresentation> {
  const now = expectations.now ?? new Date();
  const skew = expectations.clockSkewSeconds ?? 60;
  const { issuerJwt, disclosures, kbJwt, presented } = split(presentation);

  let header: Readonly<Record<string, unknown>>;
  let unverifiedIss: unknown;
  try {
    const decoded = decodeJwtUnverified(issuerJwt, { maxLength: MAX_PRESENTATION_LENGTH });
    header = decoded.header;
    unverifiedIss = decoded.payload.iss;
  } catch {
    refuse('malformed', 'the issuer-signed JWT is not a JWT');
  }
  if (header.typ !== 'dc+sd-jwt') refuse('typ', 'the credential typ is not dc+sd-jwt');
  const alg = header.alg;
  if (typeof alg !== 'string' || !(SD_JWT_ISSUER_ALGS as readonly string[]).includes(alg)) {
    throw new PresentationRefusal('vp_formats_not_supported', 'alg', 'the credential is signed with an unsupported algorithm');
  }
  // SD-JWT VC draft §3.5: an x5c chain to an anchor, or (no x5c) the JWT VC Issuer Metadata of a trusted iss.
  const issuerKey = await resolveIssuerKey(header, unverifiedIss, alg, expectations, now);
  const payload = await verifyIssuerJwt(issuerJwt, issuerKey.key, alg, now, skew);
  const issuer = payload.iss;
  if (typeof issuer !== 'string') refuse('malformed', 'the credential has no iss');
  if (issuerKey.source.kind === 'x5c' && !certificateNames(issuerKey.source.certificate).includes(issuer)) refuse('issuer_mismatch', 'iss is not a name of the issuer certificate');
  if (issuerKey.source.kind === 'metadata' && issuerKey.source.issuer !== issuer) refuse('issuer_mismatch', 'iss is not the metadata issuer');
  const vct = payload.vct;
  if (typeof vct !== 'string' || !expectations.allowedVcts.includes(vct)) refuse('vct', 'the credential type (vct) was not asked for');
  // Without a configured checker no URL named by a credential is ever fetched: refuse instead.
  if (payload.status !== undefined && !expectations.statusLists) refuse('status_unsupported', 'credentials with a status reference are not accepted: no status list checker is configured');
  assertDisclosuresReferenced(payload, disclosures);

  const binding = await verifyKeyBinding(kbJwt, presented, payload.cnf, {
    nonce: expectations.nonce,
    audience: expectations.audience,
    transactionData: expectations.transactionData,
    transactionDataHashAlgs: expectations.transactionDataHashAlgs,
    now,
    clockSkewSeconds: skew,
    maxKeyBindingAgeSeconds: expectations.maxKeyBindingAgeSeconds ?? 300,
  });
  const claims = await libraryClaims(presentation as string, issuerKey.key, alg, binding.holderKey, binding.alg, expectations.nonce, now, skew);
  // Last, as it may cost a fetch: only a presentation that is otherwise valid reaches the network (VP-5 revocation).
  if (payload.status !== undefined && expectations.statusLists) await expectations.statusLists.check(payload.status, expectations, now);
  return {
    format: 'dc+sd-jwt',
    issuer,
    vct,
    claims,
    holderKey: binding.holderKey,
    holderKeyThumbprint: binding.holderKeyThumbprint,
    issuerCertificate: issuerKey.source.kind === 'x5c' ? issuerKey.source.certificate : undefined,
    issuerKeySource: issuerKey.source,
    keyBinding: binding.payload,
  };
}

function split(presentation: unknown): { issuerJwt: string; disclosures: string[]; kbJwt: string; presented: string } {
  if (typeof presentation !== 'string' || presentation.length === 0 || presentation.length > MAX_PRESENTATION_LENGTH) {
    refuse('malformed', 'the presentation must be a compact SD-JWT string');
  }
  const parts = presentation.split('~');
  if (parts.length < 2) refuse('malformed', 'the presentation is not an SD-JWT');
  const kbJwt = parts[parts.length - 1];
  if (kbJwt === '') refuse('key_binding_missing', 'the presentation has no key binding JWT');
  const disclosures = parts.slice(1, -1);
  if (disclosures.some((d) => d === '')) refuse('malformed', 'the presentation has an empty disclosure');
  return { issuerJwt: parts[0], disclosures, kbJwt, presented: presentation.slice(0, presentation.length - kbJwt.length) };
}

async function verifyIssuerJwt(jwt: string, key: VerificationKey, alg: string, now: Date, skew: number): Promise<JWTPayload> {
  let payload: JWTPayload;
  try {
    payload = (await verifyJwt(jwt, key, { algorithms: [alg], typ: 'dc+sd-jwt', currentDate: now, clockToleranceSeconds: skew, maxTokenAgeSeconds: undefined })).payload;
  } catch (e) {
    const failure = e instanceof JwtVerificationError ? e.failure : 'malformed';
    if (failure === 'expired') refuse('expired', 'the credential is expired');
    if (failure === 'not_yet_valid') refuse('not_yet_valid', 'the credential is not valid yet');
    refuse('signature', `the credential signature does not verify (${failure})`);
  }
  if (typeof payload.iat === 'number' && payload.iat > now.getTime() / 1000 + skew) refuse('not_yet_valid', 'the credential iat is in the future');
  return payload;
}

/** DNS and URI subject alternative names, as `iss` may be written: `https://host…` (URI SAN) or the bare host (DNS SAN, also as `https://host`). */
function certificateNames(cert: X509Certificate): string[] {
  const names: string[] = [];
  for (const entry of (cert.subjectAltName ?? '').split(', ')) {
    if (entry.startsWith('URI:')) names.push(entry.slice(4));
    if (entry.startsWith('DNS:')) names.push(entry.slice(4), `https://${entry.slice(4)}`);
  }
  return names;
}

type BaseVerify = SDJwtVcInstance['verify'];
let baseVerify: BaseVerify | undefined;
/** The base SD-JWT verify that SDJwtVcInstance's own overrides (see libraryClaims). */
function baseVerifyOf(): BaseVerify {
  return (baseVerify ??= (Object.getPrototypeOf(sdJwtVcLibrary().SDJwtVcInstance.prototype) as { verify: BaseVerify }).verify);
}

/** The library's pass: signature, disclosures unpacked into claims, KB nonce and sd_hash once more. */
async function libraryClaims(presentation: string, issuerKey: VerificationKey, alg: string, holderJwk: JWK, kbAlg: string, nonce: string, now: Date, skew: number): Promise<Record<string, unknown>> {
  const holderKey = await importPublicJwk(holderJwk, kbAlg);
  const sdjwt = new (sdJwtVcLibrary().SDJwtVcInstance)({
    hasher: (data, hashAlg) => {
      if (hashAlg !== 'sha-256') throw new Error(`unsupported hash ${hashAlg}`);
      return sha256(typeof data === 'string' ? data : new Uint8Array(data));
    },
    verifier: (data, sig) => verifyJwsSignature(data, sig, issuerKey, [alg]),
    kbVerifier: (data, sig) => verifyJwsSignature(data, sig, holderKey, [kbAlg]),
    statusListFetcher: () => Promise.reject(new Error('status lists are not fetched')),
  });
  try {
    // The SD-JWT-VC layer's own verify adds a status step that would fetch the list again, without our limits
    // or trust (the StatusListChecker is authoritative): run the base SD-JWT verify (signature, disclosures, KB).
    const result = await baseVerifyOf().call(sdjwt, presentation, { keyBindingNonce: nonce, currentDate: Math.floor(now.getTime() / 1000), skewSeconds: skew });
    return result.payload as unknown as Record<string, unknown>;
  } catch (e) {
    refuse('malformed', `the SD-JWT library refused the presentation: ${e instanceof Error ? e.message.slice(0, 120) : 'unknown'}`);
  }
}
