import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** base64url of `bytes` CSPRNG bytes; 32 bytes = 256 bits (FIPA-24). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function sha256(input: string | Uint8Array): Buffer {
  return createHash('sha256').update(input).digest();
}

export function sha256B64u(input: string | Uint8Array): string {
  return sha256(input).toString('base64url');
}

/**
 * Constant-time string equality. Both sides are hashed first so neither the content nor the
 * length of the secret leaks through timing.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}
