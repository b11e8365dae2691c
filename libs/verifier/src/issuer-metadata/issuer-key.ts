import type { X509Certificate } from 'node:crypto';
import { importPublicJwk, type JWK, type VerificationKey } from '@fpa/crypto';
import { refuse } from '../sd-jwt/presentation-refusal';
import { validateX5cChain, X5cChainError } from '../trust/x5c-chain';
import { IssuerMetadataError, type IssuerMetadataResolver } from './issuer-metadata.resolver';

/**
 * Which issuer keys the verifier trusts (VP-5 trust policy), for credentials and for the Status List Tokens
 * their issuers publish: an `x5c` chain ending at a configured anchor, or — for an issuer named in
 * `issuerMetadata.trustedIssuers` that sends no `x5c` — the key its JWT VC Issuer Metadata publishes.
 */
/** Issuer algorithms accepted for credentials and status lists (asymmetric only; `none` and HMAC never). */
export const ISSUER_ALGS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'PS256', 'PS384', 'PS512', 'RS256'] as const;

export interface IssuerTrust {
  /** Root certificates an issuer's `x5c` must chain to. */
  readonly trustAnchors: readonly X509Certificate[];
  readonly issuerMetadata?: {
    readonly resolver: IssuerMetadataResolver;
    /** Exact `iss` values whose metadata is trusted (https URLs); any other `iss` without `x5c` is refused. */
    readonly trustedIssuers: readonly string[];
  };
}

export type IssuerKeySource =
  | { readonly kind: 'x5c'; readonly certificate: X509Certificate; readonly anchor: X509Certificate }
  | { readonly kind: 'metadata'; readonly issuer: string; readonly kid: string; readonly jwk: JWK };

export interface ResolvedIssuerKey {
  readonly key: VerificationKey;
  readonly source: IssuerKeySource;
}

/**
 * The key that must have signed a JWT with this header and (unverified) `iss`. `x5c` wins when present (SD-JWT
 * VC draft §3.5: the chain is validated, and the caller then matches `iss` to the certificate); without it, the
 * `iss` must be metadata-trusted and the header must name a `kid`. Refusals: `untrusted_issuer`, or
 * `issuer_metadata_unavailable` when the metadata could not be fetched (fail closed).
 */
export async function resolveIssuerKey(header: Readonly<Record<string, unknown>>, iss: unknown, alg: string, trust: IssuerTrust, now: Date): Promise<ResolvedIssuerKey> {
  if (header.x5c !== undefined) {
    try {
      const chain = validateX5cChain(header.x5c, trust.trustAnchors, now);
      return { key: chain.publicKey, source: { kind: 'x5c', certificate: chain.leaf, anchor: chain.anchor } };
    } catch (e) {
      if (e instanceof X5cChainError) refuse('untrusted_issuer', `the issuer certificate chain is not trusted (${e.failure})`);
      throw e;
    }
  }
  const metadata = trust.issuerMetadata;
  if (!metadata || typeof iss !== 'string' || !metadata.trustedIssuers.includes(iss)) {
    refuse('untrusted_issuer', 'no x5c, and iss is not an issuer whose metadata is trusted');
  }
  const kid = header.kid;
  if (typeof kid !== 'string' || kid.length === 0 || kid.length > 256) refuse('untrusted_issuer', 'a credential trusted through issuer metadata must name its key (kid)');
  let jwk: JWK;
  try {
    jwk = await metadata.resolver.signingKey(iss, kid, alg);
  } catch (e) {
    if (e instanceof IssuerMetadataError) {
      if (e.failure === 'unavailable') refuse('issuer_metadata_unavailable', `the issuer metadata could not be fetched (${e.message.slice(0, 120)})`);
      refuse('untrusted_issuer', `the issuer metadata does not vouch for the key (${e.message.slice(0, 120)})`);
    }
    throw e;
  }
  let key: VerificationKey;
  try {
    key = await importPublicJwk(jwk, alg);
  } catch {
    refuse('untrusted_issuer', 'the issuer metadata key is not a valid public key');
  }
  return { key, source: { kind: 'metadata', issuer: iss, kid, jwk } };
}
