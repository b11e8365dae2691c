import type { X509Certificate, KeyObject } from 'node:crypto';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { decodeJwtUnverified, importPublicJwk, JwtVerificationError, sha256, verifyJwsSignature, verifyJwt, type JWK, type JWTPayload } from '@fpa/crypto';
import { validateX5cChain, X5cChainError } from '../trust/x5c-chain';
import { assertDisclosuresReferenced } from './disclosures';
import { verifyKeyBinding, type KeyBindingExpectations } from './key-binding';
import { PresentationRefusal, refuse } from './presentation-refusal';

export interface SdJwtPresentationExpectations extends Pick<KeyBindingExpectations, 'nonce' | 'audience' | 'transactionData' | 'transactionDataHashAlgs'> {
  /** Root certificates an issuer's `x5c` must chain to (VP-5 trust policy). */
  readonly trustAnchors: readonly X509Certificate[];
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
  readonly issuerCertificate: X509Certificate;
  readonly keyBinding: JWTPayload;
}

/** Issuer algorithms accepted (asymmetric only; `none` and HMAC never). */
export const SD_JWT_ISSUER_ALGS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'PS256', 'PS384', 'PS512', 'RS256'] as const;
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
  try {
    header = decodeJwtUnverified(issuerJwt, { maxLength: MAX_PRESENTATION_LENGTH }).header;
  } catch {
    refuse('malformed', 'the issuer-signed JWT is not a JWT');
  }
  if (header.typ !== 'dc+sd-jwt') refuse('typ', 'the credential typ is not dc+sd-jwt');
  const alg = header.alg;
  if (typeof alg !== 'string' || !(SD_JWT_ISSUER_ALGS as readonly string[]).includes(alg)) {
    throw new PresentationRefusal('vp_formats_not_supported', 'alg', 'the credential is signed with an unsupported algorithm');
  }
  const chain = trustedChain(header.x5c, expectations.trustAnchors, now);
  const payload = await verifyIssuerJwt(issuerJwt, chain.publicKey, alg, now, skew);
  const issuer = payload.iss;
  if (typeof issuer !== 'string') refuse('malformed', 'the credential has no iss');
  if (!certificateNames(chain.leaf).includes(issuer)) refuse('issuer_mismatch', 'iss is not a name of the issuer certificate');
  const vct = payload.vct;
  if (typeof vct !== 'string' || !expectations.allowedVcts.includes(vct)) refuse('vct', 'the credential type (vct) was not asked for');
  // Token Status List is later work: never fetch a URL named by the credential, refuse instead.
  if (payload.status !== undefined) refuse('status_unsupported', 'credentials with a status reference are not accepted yet');
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
  const claims = await libraryClaims(presentation as string, chain.publicKey, alg, binding.holderKey, binding.alg, expectations.nonce, now, skew);
  return { format: 'dc+sd-jwt', issuer, vct, claims, holderKey: binding.holderKey, holderKeyThumbprint: binding.holderKeyThumbprint, issuerCertificate: chain.leaf, keyBinding: binding.payload };
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

function trustedChain(x5c: unknown, anchors: readonly X509Certificate[], now: Date) {
  try {
    return validateX5cChain(x5c, anchors, now);
  } catch (e) {
    if (e instanceof X5cChainError) refuse('untrusted_issuer', `the issuer certificate chain is not trusted (${e.failure})`);
    throw e;
  }
}

async function verifyIssuerJwt(jwt: string, key: KeyObject, alg: string, now: Date, skew: number): Promise<JWTPayload> {
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

/** The library's pass: signature, disclosures unpacked into claims, KB nonce and sd_hash once more. */
async function libraryClaims(presentation: string, issuerKey: KeyObject, alg: string, holderJwk: JWK, kbAlg: string, nonce: string, now: Date, skew: number): Promise<Record<string, unknown>> {
  const holderKey = await importPublicJwk(holderJwk, kbAlg);
  const sdjwt = new SDJwtVcInstance({
    hasher: (data, hashAlg) => {
      if (hashAlg !== 'sha-256') throw new Error(`unsupported hash ${hashAlg}`);
      return sha256(typeof data === 'string' ? data : new Uint8Array(data));
    },
    verifier: (data, sig) => verifyJwsSignature(data, sig, issuerKey, [alg]),
    kbVerifier: (data, sig) => verifyJwsSignature(data, sig, holderKey, [kbAlg]),
    statusListFetcher: () => Promise.reject(new Error('status lists are not fetched')),
  });
  try {
    const result = await sdjwt.verify(presentation, { keyBindingNonce: nonce, currentDate: Math.floor(now.getTime() / 1000), skewSeconds: skew });
    return result.payload as unknown as Record<string, unknown>;
  } catch (e) {
    refuse('malformed', `the SD-JWT library refused the presentation: ${e instanceof Error ? e.message.slice(0, 120) : 'unknown'}`);
  }
}
