import type { KeyObject } from 'node:crypto';
import { CompactEncrypt, compactDecrypt, compactVerify, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, importX509, SignJWT, type JWK, type JWTPayload } from 'jose';

/** A JWE that does not decrypt with the key (or uses an algorithm not allowed). */
export class JweError extends Error {}

/** A fresh ECDH-ES P-256 key pair as JWKs (OpenID4VP response encryption, one per request). */
export async function generateEcdhEsKeyPair(): Promise<{ publicJwk: JWK; privateJwk: JWK }> {
  const { publicKey, privateKey } = await generateKeyPair('ECDH-ES', { crv: 'P-256', extractable: true });
  return { publicJwk: await exportJWK(publicKey), privateJwk: await exportJWK(privateKey) };
}

/** The protected header of a compact JWE/JWS, or undefined when it is not one. */
export function compactProtectedHeader(token: string): Record<string, unknown> | undefined {
  try {
    return decodeProtectedHeader(token) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Decrypts a compact JWE with `alg: ECDH-ES` and one of `encs`. */
export async function decryptEcdhEsJwe(jwe: string, privateJwk: JWK, encs: readonly string[]): Promise<Uint8Array> {
  try {
    const key = await importJWK({ ...privateJwk, alg: 'ECDH-ES' }, 'ECDH-ES');
    const { plaintext } = await compactDecrypt(jwe, key, { keyManagementAlgorithms: ['ECDH-ES'], contentEncryptionAlgorithms: [...encs] });
    return plaintext;
  } catch (e) {
    throw new JweError((e as Error).message.slice(0, 100));
  }
}

/** Encrypts to an ECDH-ES public key (a wallet's direct_post.jwt / dc_api.jwt response). */
export async function encryptEcdhEsJwe(plaintext: Uint8Array, publicJwk: JWK, enc: string, kid: string | undefined): Promise<string> {
  return new CompactEncrypt(plaintext).setProtectedHeader({ alg: 'ECDH-ES', enc, ...(kid ? { kid } : {}) }).encrypt(await importJWK({ ...publicJwk, alg: 'ECDH-ES' }, 'ECDH-ES'));
}

/** Signs a JWT with a node KeyObject and the given protected header (request objects: `typ`, `x5c`). */
export function signJwtWithKeyObject(payload: JWTPayload, header: { alg: string } & Record<string, unknown>, key: KeyObject): Promise<string> {
  return new SignJWT(payload).setProtectedHeader(header).sign(key);
}

/** Verifies a compact JWS with the first certificate of its `x5c` header (what a wallet does with a request object); the payload as JSON. */
export async function verifyJwsWithX5c(jws: string, alg = 'ES256'): Promise<{ header: Record<string, unknown>; payload: Record<string, unknown> }> {
  const header = decodeProtectedHeader(jws) as Record<string, unknown>;
  const x5c = header.x5c;
  if (!Array.isArray(x5c) || typeof x5c[0] !== 'string') throw new JweError('no x5c');
  const pem = `-----BEGIN CERTIFICATE-----\n${x5c[0]}\n-----END CERTIFICATE-----`;
  const { payload } = await compactVerify(jws, await importX509(pem, alg));
  return { header, payload: JSON.parse(Buffer.from(payload).toString('utf8')) as Record<string, unknown> };
}
