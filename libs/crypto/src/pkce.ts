import { sha256B64u } from './random';

const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

/** RFC 7636 §4.2 S256 (GEN-2, VEC-7). */
export function s256CodeChallenge(verifier: string): string {
  return sha256B64u(verifier);
}

export function isValidCodeVerifier(verifier: string): boolean {
  return VERIFIER.test(verifier);
}
