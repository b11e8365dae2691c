import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { KEY_SET_ALGS } from './jwk-set';
import { thumbprint } from './jwk';

export type SigningAlgorithm = 'ES256' | 'RS256';

export interface GeneratedKeyPair {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly publicJwk: JWK;
  readonly privateJwk: JWK;
}

/** A new server signing key; its `kid` is its RFC 7638 thumbprint, unique by construction. */
export async function generateSigningKey(alg: SigningAlgorithm): Promise<GeneratedKeyPair> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
  const publicJwk = await exportJWK(publicKey);
  const privateJwk = await exportJWK(privateKey);
  const kid = await thumbprint(publicJwk);
  return {
    kid,
    alg,
    publicJwk: { ...publicJwk, kid, alg, use: 'sig' },
    privateJwk: { ...privateJwk, kid, alg },
  };
}

export function importPrivateJwk(jwk: JWK, alg: string): Promise<CryptoKey> {
  return importJWK(jwk, alg) as Promise<CryptoKey>;
}

/** A key pair for a client (device key or DPoP key) — SDK, tests and the demo use this. */
export interface ClientKeyPair {
  readonly alg: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
  readonly jkt: string;
}

export async function generateClientKeyPair(alg: (typeof KEY_SET_ALGS)[number] = 'ES256'): Promise<ClientKeyPair> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
  const publicJwk = await exportJWK(publicKey);
  return { alg, privateKey, publicJwk, jkt: await thumbprint(publicJwk) };
}
