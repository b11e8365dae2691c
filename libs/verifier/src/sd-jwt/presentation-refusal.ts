/**
 * Why a presentation was refused. `code` is the OpenID4VP error family (VP-6) the caller answers
 * with once this is wired to an endpoint: a bad presentation is `invalid_presentation` (the
 * response endpoint maps it to `invalid_request`/`access_denied` per VP-5: discard the
 * presentation, reject the response); transaction data the verifier itself was given wrongly is
 * `invalid_transaction_data`; an unsupported format or algorithm is `vp_formats_not_supported`.
 */
export type PresentationRefusalCode = 'invalid_presentation' | 'invalid_transaction_data' | 'vp_formats_not_supported';

export type PresentationRefusalReason =
  | 'malformed'
  | 'typ'
  | 'alg'
  | 'signature'
  | 'untrusted_issuer'
  | 'issuer_mismatch'
  | 'vct'
  | 'expired'
  | 'not_yet_valid'
  | 'disclosure_tampered'
  | 'key_binding_missing'
  | 'holder_key'
  | 'key_binding_signature'
  | 'nonce'
  | 'audience'
  | 'iat'
  | 'sd_hash'
  | 'transaction_data_hashes'
  | 'transaction_data'
  | 'status_unsupported'
  /** Token Status List (draft-ietf-oauth-status-list §7.1): INVALID, SUSPENDED, or any other non-VALID value. */
  | 'credential_revoked'
  | 'credential_suspended'
  | 'credential_status_invalid'
  /** The status could not be determined (list unreachable, untrusted, malformed, index outside it): fail closed. */
  | 'status_unavailable'
  /** JWT VC Issuer Metadata of a metadata-trusted issuer could not be fetched: fail closed. */
  | 'issuer_metadata_unavailable';

export class PresentationRefusal extends Error {
  constructor(
    readonly code: PresentationRefusalCode,
    readonly reason: PresentationRefusalReason,
    message: string,
  ) {
    super(message);
    this.name = 'PresentationRefusal';
  }
}

export function refuse(reason: PresentationRefusalReason, message: string): never {
  throw new PresentationRefusal('invalid_presentation', reason, message);
}
