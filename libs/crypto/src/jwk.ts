import { createPublicKey } from 'node:crypto';
import { calculateJwkThumbprint, importJWK, type JWK } from 'jose';
import { CryptoInputError } from './errors';

/** Members that make a JWK private or symmetric (RFC 7517/7518; DPOP-10). */
export const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

export type PublicJwk = JWK & { kty: string };

export interface DevicePublicKey {
  /** Only the members that define the key (no `alg`, `kid`, `use`). */
  readonly jwk: PublicJwk;
  /** Algorithm the device will sign with. */
  readonly alg: string;
  /** RFC 7638 SHA-256 thumbprint, base64url. */
  readonly jkt: string;
}

const ALGS_BY_KEY: Record<string, readonly string[]> = {
  'EC:P-256': ['ES256'],
  'OKP:Ed25519': ['EdDSA', 'Ed25519'],
  RSA: ['RS256', 'PS256', 'RS384', 'PS384', 'RS512', 'PS512'],
};
const MIN_RSA_BITS = 2048;

export function hasPrivateMembers(jwk: Record<string, unknown>): boolean {
  return PRIVATE_JWK_MEMBERS.some((m) => m in jwk);
}

/** Algorithms a public key may verify with; empty = unsupported key type. */
export function algorithmsForKey(jwk: { kty?: unknown; crv?: unknown }): readonly string[] {
  if (jwk.kty === 'RSA') return ALGS_BY_KEY.RSA;
  return ALGS_BY_KEY[`${String(jwk.kty)}:${String(jwk.crv)}`] ?? [];
}

/**
 * Parses a device's public key as sent to the registration endpoint (CONTRACT §3): a public JWK as
 * JSON, or a PEM SubjectPublicKeyInfo. Accepts EC P-256, Ed25519 and RSA ≥ 2048; refuses private
 * or symmetric keys. The key is imported once so an invalid curve point or modulus is refused here.
 */
export async function parseDevicePublicKey(input: string, requestedAlg?: string): Promise<DevicePublicKey> {
  const raw = parseKeyInput(input.trim());
  if (hasPrivateMembers(raw)) {
    throw new CryptoInputError('private_key', 'public_key must not contain private key members');
  }
  const kty = raw.kty;
  if (typeof kty !== 'string') throw new CryptoInputError('malformed_key', 'public_key has no kty');
  const algs = algorithmsForKey(raw);
  if (algs.length === 0) {
    throw new CryptoInputError('unsupported_key_type', 'public_key must be EC P-256, Ed25519 or RSA');
  }
  const jwk = minimalJwk(raw);
  if (kty === 'RSA') {
    const bits = modulusBits(String(jwk.n));
    if (bits < MIN_RSA_BITS) throw new CryptoInputError('weak_key', `RSA keys must be at least ${MIN_RSA_BITS} bits`);
  }
  const alg = requestedAlg ?? algs[0];
  if (!algs.includes(alg)) throw new CryptoInputError('alg_mismatch', `alg ${safe(alg)} cannot be used with this key`);
  try {
    await importJWK(jwk, alg);
  } catch {
    throw new CryptoInputError('malformed_key', 'public_key is not a valid key');
  }
  return { jwk, alg, jkt: await thumbprint(jwk) };
}

/** RFC 7638 SHA-256 JWK thumbprint (VEC-1, VEC-2). */
export function thumbprint(jwk: JWK): Promise<string> {
  return calculateJwkThumbprint(jwk, 'sha256');
}

function parseKeyInput(input: string): Record<string, unknown> {
  if (input.startsWith('-----BEGIN')) {
    if (!input.startsWith('-----BEGIN PUBLIC KEY-----')) {
      const reason = /^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(input) ? 'private_key' : 'unsupported_key_format';
      throw new CryptoInputError(reason, 'public_key must be a PEM SubjectPublicKeyInfo (BEGIN PUBLIC KEY)');
    }
    try {
      return createPublicKey({ key: input, format: 'pem' }).export({ format: 'jwk' }) as Record<string, unknown>;
    } catch {
      throw new CryptoInputError('malformed_key', 'public_key is not a valid PEM public key');
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(input);
  } catch {
    throw new CryptoInputError('malformed_json', 'public_key is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new CryptoInputError('malformed_json', 'public_key must be a JSON object (a JWK)');
  }
  return parsed as Record<string, unknown>;
}

/** RFC 7638 §3.2 members only: what defines the key, nothing a client could smuggle. */
function minimalJwk(raw: Record<string, unknown>): PublicJwk {
  const pick = (...names: string[]): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const n of names) {
      const v = raw[n];
      if (typeof v !== 'string' || !/^[A-Za-z0-9_-]+$/.test(v)) {
        throw new CryptoInputError('malformed_key', `public_key member ${n} is missing or not base64url`);
      }
      out[n] = v;
    }
    return out;
  };
  if (raw.kty === 'EC') return { ...pick('crv', 'x', 'y'), kty: 'EC' };
  if (raw.kty === 'OKP') return { ...pick('crv', 'x'), kty: 'OKP' };
  return { ...pick('n', 'e'), kty: 'RSA' };
}

/** Bit length of an RSA modulus given as base64url (RFC 7518 §6.3.1.1). */
export function modulusBits(n: string): number {
  const bytes = Buffer.from(n, 'base64url');
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  if (i === bytes.length) return 0;
  return (bytes.length - i - 1) * 8 + (32 - Math.clz32(bytes[i]));
}

function safe(s: string): string {
  return s.replace(/[^A-Za-z0-9]/g, '').slice(0, 20);
}
