import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

/** base64url of `bytes` CSPRNG bytes; 32 bytes = 256 bits (FIPA-24). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** One-shot `crypto.hash`: ~0.3 µs against ~2 µs for a createHash object (store keys hash several values per request). */
export function sha256(input: string | Uint8Array): Buffer {
  return hash('sha256', input, 'buffer');
}

export function sha256B64u(input: string | Uint8Array): string {
  return hash('sha256', input, 'base64url');
}

/**
 * Constant-time string equality. Both sides are hashed first so neither the content nor the
 * length of the secret leaks through timing.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}
