import type { CredentialFormat, JsonQuery } from './credential-policy';

/** What a response must be bound to (VP-5): our client id and response URI, or the app's origin (DC API). */
export type PresentationBinding =
  | { readonly kind: 'redirect'; readonly clientId: string; readonly responseUri: string }
  | { readonly kind: 'dc_api'; readonly origins: readonly string[] };

export interface PresentationExpectations {
  readonly dcqlQuery: JsonQuery;
  readonly nonce: string;
  readonly binding: PresentationBinding;
  /** The request's `transaction_data` strings, as sent (VP-4). */
  readonly transactionData?: readonly string[];
  /** Base64url RFC 7638 thumbprint of the request's encryption key when the response was encrypted (mdoc transcripts). */
  readonly jwkThumbprint?: string;
  readonly now: Date;
}

/** One verified credential: where it came from and what the holder disclosed. */
export interface VerifiedCredential {
  /** The DCQL credential query id it answered. */
  readonly credentialId: string;
  readonly format: CredentialFormat;
  /** SD-JWT VC `iss`; mdoc: the IACA's subject DN (VP-7: the issuer the user claim is combined with). */
  readonly issuer: string;
  /** SD-JWT VC: the disclosed claims; mdoc: `{ namespace: { element: value } }`. */
  readonly claims: Readonly<Record<string, unknown>>;
}

export type PresentationVerdict =
  | { readonly ok: true; readonly credentials: readonly VerifiedCredential[] }
  /** `code`: the VP-6 family (`invalid_presentation`, `invalid_transaction_data`, `vp_formats_not_supported`); `reason`: which check. */
  | { readonly ok: false; readonly code: string; readonly reason: string; readonly description: string };

/**
 * The verifier port (issue 11 item 6): the built-in verifier (libs/verifier, in process) or an
 * external verifier service over HTTP (docs/verifier.md, "HTTP contract"). It never throws for a
 * bad presentation: it answers a refusal.
 */
export interface PresentationVerifier {
  verify(vpToken: unknown, expectations: PresentationExpectations): Promise<PresentationVerdict>;
}

export const PRESENTATION_VERIFIER = Symbol('PRESENTATION_VERIFIER');

export const refusal = (code: string, reason: string, description: string): PresentationVerdict => ({ ok: false, code, reason, description });
