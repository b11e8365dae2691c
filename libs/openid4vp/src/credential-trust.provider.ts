import type { AppConfig } from '@fpa/config';
import { createHttpFetcher, IssuerMetadataResolver, StatusListChecker, type RemoteFetcher } from '@fpa/verifier';
import type { BuiltinVerifierOptions } from './builtin-presentation-verifier';
import { trustAnchorsFrom, watchedTrustAnchors } from './verifier-identity.provider';

/**
 * What the built-in verifier trusts and checks beyond the signature (issue 11 "trust/revocation policy", VP-5),
 * built once per process from configuration — the checker and the resolver cache what they fetch, so they must
 * not be rebuilt per request:
 * - issuer trust: `x5c` chains to DIGITAL_CREDENTIALS_TRUST_ANCHORS, or, for an `iss` listed in
 *   DIGITAL_CREDENTIALS_METADATA_ISSUERS, the key its JWT VC Issuer Metadata publishes (SD-JWT VC draft §5);
 * - credential status: a `status.status_list` reference is checked against the Token Status List it names
 *   (draft-ietf-oauth-status-list §8.3), failing closed when the list cannot be read.
 * Both fetch through one fetcher: https only (http to a loopback host only with
 * DIGITAL_CREDENTIALS_ALLOW_HTTP_LOOPBACK, which production refuses), no redirects, bounded size and time.
 */
export function credentialTrustFrom(config: AppConfig, fetcher?: RemoteFetcher): BuiltinVerifierOptions {
  const dc = config.digitalCredentials;
  const remote = fetcher ?? createHttpFetcher({ allowHttpLoopback: dc.allowHttpLoopback && config.mode !== 'production' });
  return {
    trustAnchors: dc.trustAnchorsWatched ? [] : trustAnchorsFrom(dc.trustAnchors),
    // The embedded default re-reads DATA_DIR/trust-anchors when a .pem there changes (the demo issuer's root).
    ...(dc.trustAnchorsWatched && dc.trustAnchors ? { anchorSource: watchedTrustAnchors(dc.trustAnchors) } : {}),
    statusLists: new StatusListChecker({ fetcher: remote }),
    ...(dc.metadataIssuers.length > 0 ? { issuerMetadata: { resolver: new IssuerMetadataResolver({ fetcher: remote }), trustedIssuers: [...dc.metadataIssuers] } } : {}),
  };
}
