import { createLocalJWKSet, errors, importJWK, type JWK } from 'jose';
import { IDENTIFIER_RULES, textFault } from '@fpa/oauth-core';
import { CryptoInputError } from './errors';
import { hasPrivateMembers, modulusBits } from './jwk';
import { joseVerify, JwtVerificationError, toVerificationError, type VerifiedJwt, type VerifyJwtOptions } from './jwt';

/**
 * A client's registered public keys (RFC 7591 `jwks` / `jwks_uri`) for `private_key_jwt`
 * (RFC 7523, OIDC Core §9): what a set may hold, and verifying an assertion against it.
 */

/** JWTCA-8: asymmetric JWS algorithms only — never `none`, never a MAC (HS*). */
export const KEY_SET_ALGS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512'] as const;

const ALGS_BY_KEY: Readonly<Record<string, readonly string[]>> = {
  'EC:P-256': ['ES256'],
  'EC:P-384': ['ES384'],
  'EC:P-521': ['ES512'],
  'OKP:Ed25519': ['EdDSA', 'Ed25519'],
  RSA: ['PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512'],
};
const MIN_RSA_BITS = 2048;
const MAX_KID_LENGTH = 256;

export type JwkSetFailure =
  | 'malformed_jwks'
  | 'no_keys'
  | 'too_many_keys'
  | 'private_key'
  | 'unsupported_key_type'
  | 'weak_key'
  | 'malformed_key'
  | 'missing_kid'
  | 'duplicate_kid'
  | 'alg_mismatch';

export class JwkSetError extends CryptoInputError {
  constructor(
    readonly failure: JwkSetFailure,
    message: string,
  ) {
    super(failure, message);
    this.name = 'JwkSetError';
  }
}

/** Only the members that define each key, plus `kid`, `alg` and `use` when the client set them. */
export interface PublicJwkSet {
  readonly keys: readonly JWK[];
}

export interface JwkSetLimits {
  /** Keys the set may hold, encryption keys included. */
  readonly maxKeys: number;
}

/**
 * The synchronous checks, for registration and for every fetched set:
 * - a JWK Set object whose `keys` is an array of objects, at most `maxKeys` of them;
 * - no private or symmetric key material anywhere (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`,
 *   `kty: oct`): the whole set is refused — whoever published it has leaked the key;
 * - keys marked for encryption (`use: enc`, or `key_ops` without `verify`) are left out; every other
 *   key is EC P-256/P-384/P-521, Ed25519 or RSA ≥ 2048 with well-formed members, and an `alg`, when
 *   given, that fits the key (jose then pins the key to it);
 * - at least one signing key; with more than one, each has a `kid` and no two share one.
 */
export function checkPublicJwkSet(input: unknown, limits: JwkSetLimits): PublicJwkSet {
  if (!isRecord(input) || !Array.isArray(input.keys)) throw new JwkSetError('malformed_jwks', 'must be a JWK Set: {"keys": [...]}');
  const raw: unknown[] = input.keys;
  if (!raw.every(isRecord)) throw new JwkSetError('malformed_jwks', 'every member of keys must be a JWK object');
  const members = raw as Record<string, unknown>[];
  const leaked = members.findIndex((k) => hasPrivateMembers(k) || k.kty === 'oct');
  if (leaked >= 0) throw new JwkSetError('private_key', `key ${leaked} holds private or symmetric key material; only public keys may be registered`);
  if (members.length > limits.maxKeys) throw new JwkSetError('too_many_keys', `holds more than ${limits.maxKeys} keys`);
  const keys = members.filter(isSigningKey).map((k) => publicSigningJwk(k));
  if (keys.length === 0) throw new JwkSetError('no_keys', 'holds no signing key');
  if (keys.length > 1) {
    const kids = keys.map((k) => k.kid);
    if (kids.some((kid) => kid === undefined)) throw new JwkSetError('missing_kid', 'every key needs a kid when the set holds more than one');
    const dup = kids.find((kid, i) => kids.indexOf(kid) !== i);
    if (dup !== undefined) throw new JwkSetError('duplicate_kid', `kid ${JSON.stringify(dup.slice(0, 40))} is used twice`);
  }
  return { keys };
}

/** Imports every key with jose once, so an invalid curve point or modulus is refused up front. */
export async function importPublicJwkSet(set: PublicJwkSet): Promise<void> {
  for (const [i, jwk] of set.keys.entries()) {
    try {
      await importJWK(jwk, jwk.alg ?? algorithmsForSetKey(jwk)[0]);
    } catch {
      throw new JwkSetError('malformed_key', `key ${i}${jwk.kid ? ` (kid ${JSON.stringify(jwk.kid.slice(0, 40))})` : ''} is not a valid public key`);
    }
  }
}

/** Both checks: what registration and the jwks_uri fetcher accept. */
export async function parsePublicJwkSet(input: unknown, limits: JwkSetLimits): Promise<PublicJwkSet> {
  const set = checkPublicJwkSet(input, limits);
  await importPublicJwkSet(set);
  return set;
}

/** Algorithms a key of a client's set may verify with; empty = not a supported key. */
export function algorithmsForSetKey(jwk: { kty?: unknown; crv?: unknown }): readonly string[] {
  if (jwk.kty === 'RSA') return ALGS_BY_KEY.RSA;
  return ALGS_BY_KEY[`${String(jwk.kty)}:${String(jwk.crv)}`] ?? [];
}

/** A verifier over one key set; build it once per set (jose caches the imported keys inside). */
export type KeySetVerifier = (token: string, options: VerifyJwtOptions) => Promise<VerifiedJwt>;

/**
 * Verifies a JWT with the key of `set` its header selects (jose's `createLocalJWKSet`: `kid`, `alg`
 * against the key's type and its own `alg`, `use: sig`). When several keys fit (no `kid`), each is
 * tried. Failures are `JwtVerificationError`s; `no_matching_key` means the set holds no key for the
 * header at all — the caller may refetch the set — as opposed to `bad_signature`.
 */
export function keySetVerifier(set: PublicJwkSet): KeySetVerifier {
  const resolve = createLocalJWKSet({ keys: set.keys.map((k) => ({ ...k })) });
  return async (token, options) => {
    try {
      return await joseVerify(token, resolve, options);
    } catch (e) {
      if (e instanceof errors.JWKSNoMatchingKey) throw new JwtVerificationError('no_matching_key', 'no registered key matches the JWS header');
      if (!(e instanceof errors.JWKSMultipleMatchingKeys)) throw toVerificationError(e);
      for await (const key of e) {
        try {
          return await joseVerify(token, key, options);
        } catch (inner) {
          // A claim failure means this key's signature held: that is the answer.
          if (!(inner instanceof errors.JWSSignatureVerificationFailed)) throw toVerificationError(inner);
        }
      }
      throw new JwtVerificationError('bad_signature', 'signature verification failed');
    }
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7517 §4.2/§4.3: a key for encryption only is not ours to check (nor to use). */
function isSigningKey(k: Record<string, unknown>): boolean {
  if (k.use === 'enc') return false;
  return !(Array.isArray(k.key_ops) && !k.key_ops.includes('verify'));
}

function publicSigningJwk(raw: Record<string, unknown>): JWK {
  const label = typeof raw.kid === 'string' ? `key ${JSON.stringify(raw.kid.slice(0, 40))}` : 'a key';
  const algs = algorithmsForSetKey(raw);
  if (algs.length === 0) throw new JwkSetError('unsupported_key_type', `${label} must be EC P-256/P-384/P-521, Ed25519 or RSA`);
  if (raw.use !== undefined && raw.use !== 'sig') throw new JwkSetError('malformed_key', `${label} has an unknown use`);
  // A kid is looked up by (issue 8's identifier rule, as for the header's kid).
  if (raw.kid !== undefined && (typeof raw.kid !== 'string' || raw.kid.length === 0 || raw.kid.length > MAX_KID_LENGTH || textFault(raw.kid, IDENTIFIER_RULES))) {
    throw new JwkSetError('malformed_key', `${label} has an invalid kid`);
  }
  if (raw.alg !== undefined && (typeof raw.alg !== 'string' || !algs.includes(raw.alg))) {
    throw new JwkSetError('alg_mismatch', `${label}: alg must be one of ${algs.join(', ')} for this key type`);
  }
  const names = raw.kty === 'EC' ? ['crv', 'x', 'y'] : raw.kty === 'OKP' ? ['crv', 'x'] : ['n', 'e'];
  const out: Record<string, string> = { kty: raw.kty as string };
  for (const n of names) {
    const v = raw[n];
    if (typeof v !== 'string' || !/^[A-Za-z0-9_-]+$/.test(v)) throw new JwkSetError('malformed_key', `${label}: member ${n} is missing or not base64url`);
    out[n] = v;
  }
  if (raw.kty === 'RSA' && modulusBits(out.n) < MIN_RSA_BITS) throw new JwkSetError('weak_key', `${label}: RSA keys must be at least ${MIN_RSA_BITS} bits`);
  for (const n of ['kid', 'alg', 'use'] as const) if (typeof raw[n] === 'string') out[n] = raw[n];
  return out as JWK;
}
