/**
 * Why a trust chain could not be built or did not verify (OpenID Federation 1.0 §10). A bounded set
 * of machine reasons (for metrics and tests) with a human message safe to show a client: it names
 * entity ids and claims, never key material.
 */
export type TrustChainFailure =
  /** An entity id or endpoint that is not https (or loopback http when allowed). */
  | 'insecure_url'
  /** Network error, timeout, 5xx or 429: trying later may work. */
  | 'unavailable'
  /** 404 / 410: no entity configuration or no statement about that subject. */
  | 'not_found'
  /** The entity being resolved publishes no entity configuration (404 / 410 at its well-known URL). */
  | 'not_a_federation_entity'
  | 'http_status'
  | 'redirect'
  | 'content_type'
  | 'too_large'
  | 'malformed'
  | 'bad_signature'
  | 'typ_mismatch'
  | 'expired'
  | 'not_yet_valid'
  | 'issuer_mismatch'
  | 'subject_mismatch'
  | 'unsupported_critical'
  | 'no_fetch_endpoint'
  | 'loop'
  | 'too_deep'
  | 'too_many_fetches'
  | 'resolve_timeout'
  | 'no_trust_anchor'
  | 'metadata_policy';

/** Failures that say nothing about the chain itself: the same resolution may succeed later. */
export const TRANSIENT_FAILURES: ReadonlySet<TrustChainFailure> = new Set(['unavailable', 'resolve_timeout']);

export class TrustChainError extends Error {
  constructor(
    readonly failure: TrustChainFailure,
    message: string,
  ) {
    super(message);
    this.name = 'TrustChainError';
  }
}

/** A metadata policy that cannot be combined or that the metadata violates (§6.1). */
export class MetadataPolicyError extends TrustChainError {
  constructor(message: string) {
    super('metadata_policy', message);
    this.name = 'MetadataPolicyError';
  }
}
