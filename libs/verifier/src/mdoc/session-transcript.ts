import type { MdocContext, SessionTranscript } from '@owf/mdoc';
import { mdocLibrary } from '../format-libraries';

/**
 * The SessionTranscript an mdoc's device signature covers over OpenID4VP 1.0 (Appendix B.2.6):
 *   SessionTranscript = [null, null, Handover]
 *   redirect / direct_post:  Handover = ["OpenID4VPHandover", SHA-256(cbor([client_id, nonce, jwkThumbprint / null, response_uri]))]
 *   DC API (dc_api[.jwt]):   Handover = ["OpenID4VPDCAPIHandover", SHA-256(cbor([origin, nonce, jwkThumbprint / null]))]
 * `client_id` is the full prefixed identifier (VP-1); `jwkThumbprint` is the RFC 7638 SHA-256 thumbprint of the
 * verifier's encryption key when the response is encrypted (direct_post.jwt / dc_api.jwt), null otherwise.
 * @owf/mdoc builds both (SessionTranscript.forOid4Vp / forOid4VpDcApi); session-transcript.spec.ts checks the bytes
 * against the structure above built independently.
 */
export type MdocSessionTranscriptInput =
  | { readonly kind: 'openid4vp'; readonly clientId: string; readonly nonce: string; readonly responseUri: string; readonly jwkThumbprint?: Uint8Array }
  | { readonly kind: 'dc_api'; readonly origin: string; readonly nonce: string; readonly jwkThumbprint?: Uint8Array };

export class SessionTranscriptInputError extends Error {}

/** VP-1: the nonce is what binds the presentation to this request; an empty or non-URL-safe one is a caller bug. */
const NONCE = /^[A-Za-z0-9\-._~]+$/;

function assertInput(input: MdocSessionTranscriptInput): void {
  if (!NONCE.test(input.nonce)) throw new SessionTranscriptInputError('nonce must be a non-empty URL-safe string (VP-1)');
  if (input.jwkThumbprint !== undefined && input.jwkThumbprint.length !== 32) {
    throw new SessionTranscriptInputError('jwkThumbprint must be a 32-byte SHA-256 JWK thumbprint');
  }
  if (input.kind === 'openid4vp') {
    if (input.clientId.length === 0) throw new SessionTranscriptInputError('client_id is required');
    if (!URL.canParse(input.responseUri)) throw new SessionTranscriptInputError('response_uri must be an absolute URI');
    return;
  }
  if (!URL.canParse(input.origin) || new URL(input.origin).origin !== input.origin) {
    throw new SessionTranscriptInputError('origin must be a web origin (scheme://host[:port], no path)');
  }
}

export async function buildMdocSessionTranscript(input: MdocSessionTranscriptInput, ctx: Pick<MdocContext, 'crypto'>): Promise<SessionTranscript> {
  assertInput(input);
  const jwkThumbprint = input.jwkThumbprint;
  if (input.kind === 'openid4vp') {
    return mdocLibrary().SessionTranscript.forOid4Vp({ clientId: input.clientId, nonce: input.nonce, responseUri: input.responseUri, jwkThumbprint }, ctx);
  }
  return mdocLibrary().SessionTranscript.forOid4VpDcApi({ origin: input.origin, nonce: input.nonce, jwkThumbprint }, ctx);
}
