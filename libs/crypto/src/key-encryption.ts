import { CompactEncrypt, compactDecrypt, type JWK } from 'jose';

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Private signing keys at rest (CONTRACT §8): a compact JWE, `dir` + A256GCM under the key
 * encryption key from configuration. The `kid` sits in the protected header, so it is
 * authenticated: a ciphertext moved to another key row fails to decrypt.
 */
export function encryptPrivateJwk(jwk: JWK, kid: string, kek: Uint8Array): Promise<string> {
  return new CompactEncrypt(enc.encode(JSON.stringify(jwk)))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid, cty: 'jwk+json' })
    .encrypt(kek);
}

export async function decryptPrivateJwk(jwe: string, kid: string, kek: Uint8Array): Promise<JWK> {
  const { plaintext, protectedHeader } = await compactDecrypt(jwe, kek, {
    keyManagementAlgorithms: ['dir'],
    contentEncryptionAlgorithms: ['A256GCM'],
  });
  if (protectedHeader.kid !== kid) throw new Error(`encrypted key does not belong to kid ${kid}`);
  return JSON.parse(dec.decode(plaintext)) as JWK;
}

/**
 * Any other secret at rest (TOTP seeds, pending enrolment secrets): a compact JWE under the key
 * encryption key, with `context` bound into the protected header so a ciphertext cannot be moved
 * to another record.
 */
export function encryptSecret(secret: string, context: string, kek: Uint8Array): Promise<string> {
  return new CompactEncrypt(enc.encode(secret)).setProtectedHeader({ alg: 'dir', enc: 'A256GCM', ctx: context }).encrypt(kek);
}

export async function decryptSecret(jwe: string, context: string, kek: Uint8Array): Promise<string> {
  const { plaintext, protectedHeader } = await compactDecrypt(jwe, kek, {
    keyManagementAlgorithms: ['dir'],
    contentEncryptionAlgorithms: ['A256GCM'],
  });
  if (protectedHeader.ctx !== context) throw new Error('encrypted secret belongs to another record');
  return dec.decode(plaintext);
}
