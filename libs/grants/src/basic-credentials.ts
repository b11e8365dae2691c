import { IDENTIFIER_RULES, textFault } from '@fpa/oauth-core';

/** RFC 6749 §5.2 / RFC 7617: the challenge every invalid_client after an Authorization header carries. */
export { BASIC_CHALLENGE } from '@fpa/oauth-core';

export type AuthorizationHeader =
  | { readonly kind: 'absent' }
  | { readonly kind: 'basic'; readonly id: string; readonly secret: string }
  /** `Basic` whose credentials do not decode to `client_id:secret`. */
  | { readonly kind: 'malformed' }
  /** They decode, but to text no store holds unchanged (controls, invalid UTF-8, over 1024 characters). */
  | { readonly kind: 'unstorable' }
  /** Any other scheme (Bearer, DPoP, …): not a way to authenticate a client here. */
  | { readonly kind: 'other_scheme' };

/** RFC 6749 §2.3.1: client_id and secret are form-urlencoded before Basic encoding. */
export function readAuthorizationHeader(header: string | string[] | undefined): AuthorizationHeader {
  if (header === undefined) return { kind: 'absent' };
  if (typeof header !== 'string') return { kind: 'malformed' };
  const m = /^basic(?:\s+(.*))?$/is.exec(header.trim());
  if (!m) return { kind: 'other_scheme' };
  const encoded = (m[1] ?? '').trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return { kind: 'malformed' };
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i <= 0) return { kind: 'malformed' };
  let id: string;
  let secret: string;
  try {
    id = decodeURIComponent(decoded.slice(0, i).replace(/\+/g, ' '));
    secret = decodeURIComponent(decoded.slice(i + 1).replace(/\+/g, ' '));
  } catch {
    return { kind: 'malformed' };
  }
  // The identifier text rules, like every other value that reaches the client registry (the base64 may decode to anything).
  if (textFault(id, IDENTIFIER_RULES) || textFault(secret, IDENTIFIER_RULES)) return { kind: 'unstorable' };
  return { kind: 'basic', id, secret };
}
