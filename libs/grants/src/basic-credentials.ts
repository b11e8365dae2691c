/** RFC 6749 §5.2 / RFC 7617: the challenge every invalid_client after an Authorization header carries. */
export { BASIC_CHALLENGE } from '@fpa/oauth-core';

export type AuthorizationHeader =
  | { readonly kind: 'absent' }
  | { readonly kind: 'basic'; readonly id: string; readonly secret: string }
  /** `Basic` whose credentials do not decode to `client_id:secret`. */
  | { readonly kind: 'malformed' }
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
  try {
    return { kind: 'basic', id: decodeURIComponent(decoded.slice(0, i).replace(/\+/g, ' ')), secret: decodeURIComponent(decoded.slice(i + 1).replace(/\+/g, ' ')) };
  } catch {
    return { kind: 'malformed' };
  }
}
