import { randomUUID } from 'node:crypto';
import { decodeProtectedHeader, importJWK, jwtVerify, type CryptoKey, type JWK } from 'jose';
import { CryptoInputError } from './errors';
import { hasPrivateMembers, thumbprint } from './jwk';
import { keyClaimFault, signJwt, toVerificationError, type SigningKey } from './jwt';
import { sha256B64u } from './random';

/** Machine reasons for a refused proof (metrics label `reason`). */
export type DpopFailureReason =
  | 'missing'
  | 'multiple'
  | 'malformed'
  | 'typ'
  | 'alg'
  | 'jwk'
  | 'private_jwk'
  | 'signature'
  | 'claims'
  | 'htm'
  | 'htu'
  | 'iat'
  | 'ath'
  | 'key_mismatch'
  | 'replay'
  | 'nonce';

export class DpopProofError extends CryptoInputError {
  constructor(
    readonly failure: DpopFailureReason,
    message: string,
  ) {
    super(failure, message);
    this.name = 'DpopProofError';
  }
}

export interface DpopVerifyOptions {
  readonly htm: string;
  /** The externally visible URL of the endpoint (DPOP-12). */
  readonly htu: string;
  readonly algorithms: readonly string[];
  readonly nowSeconds: number;
  readonly maxAgeSeconds: number;
  readonly skewSeconds: number;
  /** At a resource server: the presented access token, whose hash must be in `ath` (DPOP-15). */
  readonly accessToken?: string;
}

export interface VerifiedDpopProof {
  readonly jkt: string;
  readonly jwk: JWK;
  readonly jti: string;
  readonly iat: number;
  readonly nonce: string | undefined;
}

const MAX_JTI_LENGTH = 256;
const DPOP_KEY_CLAIMS = ['jti', 'htm', 'htu', 'nonce'] as const;

/**
 * RFC 9449 §4.3 checks 2–11 (DPOP-5…12, 14, 15). Nonce (DPOP-13) and replay (DPOP-14 jti) need
 * server state and are checked by the caller with the returned `nonce` and `jti`.
 */
export async function verifyDpopProof(proof: string, opts: DpopVerifyOptions): Promise<VerifiedDpopProof> {
  // DPOP-5: one well-formed compact JWS.
  if (proof.length > 8192 || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(proof)) {
    throw new DpopProofError('malformed', 'DPoP proof is not a compact JWS');
  }
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(proof) as Record<string, unknown>;
  } catch {
    throw new DpopProofError('malformed', 'DPoP proof header is not decodable');
  }
  // DPOP-7: explicit typing defends against JWT swapping.
  if (header.typ !== 'dpop+jwt') throw new DpopProofError('typ', 'DPoP proof typ must be dpop+jwt');
  // DPOP-8: asymmetric, allow-listed algorithm.
  if (typeof header.alg !== 'string' || !opts.algorithms.includes(header.alg)) {
    throw new DpopProofError('alg', 'DPoP proof alg is not allowed');
  }
  const jwk = header.jwk;
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) {
    throw new DpopProofError('jwk', 'DPoP proof header must carry a jwk');
  }
  // DPOP-10: never a private or symmetric key.
  if (hasPrivateMembers(jwk as Record<string, unknown>)) {
    throw new DpopProofError('private_jwk', 'DPoP proof jwk must not contain private members');
  }
  let payload: Record<string, unknown>;
  let imported: ImportedProofKey;
  try {
    imported = await importProofKey(jwk as JWK, header.alg);
  } catch {
    throw new DpopProofError('jwk', 'DPoP proof jwk is not a valid public key for its alg');
  }
  try {
    // DPOP-9: signature with the embedded key.
    const result = await jwtVerify(proof, imported.key, {
      algorithms: [...opts.algorithms],
      typ: 'dpop+jwt',
      currentDate: new Date(opts.nowSeconds * 1000),
    });
    payload = result.payload as Record<string, unknown>;
  } catch (e) {
    const v = toVerificationError(e);
    throw new DpopProofError(v.failure === 'bad_signature' || v.failure === 'malformed' ? 'signature' : 'claims', `DPoP proof ${v.message}`);
  }
  // DPOP-6: required claims. jti (the replay key), htm, htu and nonce are also identifiers every
  // store holds unchanged (oauth-core input-text.ts), like the key claims of any JWT.
  if (keyClaimFault(header, payload, DPOP_KEY_CLAIMS)) throw new DpopProofError('claims', 'DPoP proof claims are malformed');
  const { jti, htm, htu, iat } = payload;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
    throw new DpopProofError('claims', 'DPoP proof jti is missing or invalid');
  }
  if (typeof htm !== 'string' || typeof htu !== 'string' || typeof iat !== 'number' || !Number.isFinite(iat)) {
    throw new DpopProofError('claims', 'DPoP proof must carry htm, htu and a numeric iat');
  }
  // DPOP-11
  if (htm !== opts.htm) throw new DpopProofError('htm', 'DPoP proof htm does not match the request method');
  // DPOP-12: compare after RFC 3986 syntax/scheme normalisation, ignoring query and fragment.
  const normalized = normalizeHtu(htu);
  if (normalized === undefined || normalized !== normalizedTarget(opts.htu)) {
    throw new DpopProofError('htu', 'DPoP proof htu does not match the request URL');
  }
  // DPOP-14: short acceptance window around now.
  if (iat < opts.nowSeconds - opts.maxAgeSeconds - opts.skewSeconds || iat > opts.nowSeconds + opts.skewSeconds) {
    throw new DpopProofError('iat', 'DPoP proof iat is outside the acceptable window');
  }
  // DPOP-15
  if (opts.accessToken !== undefined) {
    if (typeof payload.ath !== 'string' || payload.ath !== sha256B64u(opts.accessToken)) {
      throw new DpopProofError('ath', 'DPoP proof ath does not match the access token');
    }
  }
  const nonce = payload.nonce;
  if (nonce !== undefined && typeof nonce !== 'string') throw new DpopProofError('claims', 'DPoP proof nonce must be a string');
  return { jkt: imported.jkt, jwk: jwk as JWK, jti, iat, nonce };
}

interface ImportedProofKey {
  readonly key: CryptoKey;
  readonly jkt: string;
}

const PROOF_KEY_CACHE_MAX = 20_000;
const proofKeys = new Map<string, Promise<ImportedProofKey>>();

/**
 * A client signs many proofs with one DPoP key; importing it and hashing its thumbprint once per
 * key (both with jose) instead of once per request keeps that work off the hot path. The cache key
 * is the algorithm plus the key's RFC 7638 members, so two different keys can never share an entry.
 */
function importProofKey(jwk: JWK, alg: string): Promise<ImportedProofKey> {
  const members = jwk.kty === 'EC' ? [jwk.kty, jwk.crv, jwk.x, jwk.y] : jwk.kty === 'OKP' ? [jwk.kty, jwk.crv, jwk.x] : [jwk.kty, jwk.n, jwk.e];
  const cacheKey = `${alg}|${members.map((m) => (typeof m === 'string' ? m : '?')).join('|')}`;
  let entry = proofKeys.get(cacheKey);
  if (entry) {
    // Least recently used goes first: a hit moves the key to the back, so the long-lived keys of
    // active devices survive a burst of one-off keys (a sign-in creates a fresh one each time).
    proofKeys.delete(cacheKey);
  } else {
    entry = Promise.all([importJWK(jwk, alg), thumbprint(jwk)]).then(([key, jkt]) => ({ key: key as CryptoKey, jkt }));
    entry.catch(() => proofKeys.delete(cacheKey));
    if (proofKeys.size >= PROOF_KEY_CACHE_MAX) proofKeys.delete(proofKeys.keys().next().value as string);
  }
  proofKeys.set(cacheKey, entry);
  return entry;
}

const normalizedTargets = new Map<string, string | undefined>();

/** The server's own expected URL is the same on every request: normalise it once. */
function normalizedTarget(url: string): string | undefined {
  if (!normalizedTargets.has(url)) {
    if (normalizedTargets.size > 1000) normalizedTargets.clear();
    normalizedTargets.set(url, normalizeHtu(url));
  }
  return normalizedTargets.get(url);
}

/** RFC 3986 §6.2.2/6.2.3 normalisation of an htu; undefined if it is not an absolute http(s) URL. */
export function normalizeHtu(value: string): string | undefined {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
  // WHATWG URL already lower-cases scheme and host, drops default ports and resolves dot segments.
  const path = u.pathname.replace(/%[0-9a-f]{2}/gi, (m) => {
    const ch = String.fromCharCode(parseInt(m.slice(1), 16));
    return /[A-Za-z0-9\-._~]/.test(ch) ? ch : m.toUpperCase();
  });
  return `${u.protocol}//${u.host}${path}`;
}

export interface DpopProofInput {
  readonly htm: string;
  readonly htu: string;
  readonly nonce?: string;
  readonly accessToken?: string;
  readonly jti?: string;
  readonly iat?: number;
}

/** Client side (SDK, tests, benchmark): a fresh proof for one request. */
export async function createDpopProof(
  key: { privateKey: SigningKey; publicJwk: JWK; alg: string },
  input: DpopProofInput,
): Promise<string> {
  const payload: Record<string, unknown> = {
    jti: input.jti ?? randomUUID(),
    htm: input.htm,
    htu: input.htu,
    iat: input.iat ?? Math.floor(Date.now() / 1000),
  };
  if (input.nonce !== undefined) payload.nonce = input.nonce;
  if (input.accessToken !== undefined) payload.ath = sha256B64u(input.accessToken);
  return signJwt(payload, { alg: key.alg, typ: 'dpop+jwt', jwk: key.publicJwk }, key.privateKey);
}
