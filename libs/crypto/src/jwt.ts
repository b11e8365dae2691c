import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  flattenedVerify,
  importJWK,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
  type KeyObject,
} from 'jose';
import { IDENTIFIER_RULES, textFault } from '@fpa/oauth-core';
import { CryptoInputError } from './errors';

export type SigningKey = CryptoKey | KeyObject;
export type VerificationKey = CryptoKey | KeyObject;
export type { JWK, JWTPayload };

export interface JwtHeader {
  readonly alg: string;
  readonly typ?: string;
  readonly kid?: string;
  readonly jwk?: JWK;
}

export function signJwt(payload: JWTPayload, header: JwtHeader, key: SigningKey): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ ...header }).sign(key);
}

export interface DecodedJwt {
  readonly header: Readonly<Record<string, unknown>>;
  readonly payload: JWTPayload;
}

/**
 * Reads a compact JWS without verifying it — only to find which key verifies it (the
 * `device_auth_session` of a client assertion). Nothing read here is trusted, but the claims the
 * suite looks things up by are checked here (keyClaimFault), before any lookup.
 */
export function decodeJwtUnverified(token: string, options: { maxLength?: number } = {}): DecodedJwt {
  // 16 KiB by default; OpenID Federation entity statements carry whole metadata documents and pass their own bound.
  if (token.length > (options.maxLength ?? 16_384) || token.split('.').length !== 3) {
    throw new CryptoInputError('malformed', 'not a compact JWS');
  }
  let decoded: DecodedJwt;
  try {
    decoded = { header: decodeProtectedHeader(token) as Record<string, unknown>, payload: decodeJwt(token) };
  } catch {
    throw new CryptoInputError('malformed', 'not a decodable JWT');
  }
  assertKeyClaims(decoded.header, decoded.payload);
  return decoded;
}

/**
 * Claims (and the header's `kid`) that the suite or a resource server uses as lookup keys: the
 * client registry (`iss`, `sub`, `client_id`), device sessions (`device_auth_session`,
 * `auth_session`), replay and revocation records (`jti`), key sets (`kid`). RFC 7519 §4.1 makes
 * them strings; they must also be identifiers every store holds unchanged (oauth-core
 * input-text.ts: no control characters, well-formed UTF-8, at most 1024 characters).
 */
export const KEY_CLAIMS = ['iss', 'sub', 'client_id', 'device_auth_session', 'auth_session', 'jti'] as const;

/** The first key claim or header parameter present but not a usable identifier (`kid` for the header). */
export function keyClaimFault(header: Readonly<Record<string, unknown>>, payload: Readonly<Record<string, unknown>>, claims: readonly string[] = KEY_CLAIMS): string | undefined {
  if (header.kid !== undefined && !isIdentifier(header.kid)) return 'kid';
  return claims.find((name) => payload[name] !== undefined && !isIdentifier(payload[name]));
}

function isIdentifier(value: unknown): boolean {
  return typeof value === 'string' && textFault(value, IDENTIFIER_RULES) === undefined;
}

/** A JWT whose key claims are unusable is malformed, whoever reads it. */
function assertKeyClaims(header: Readonly<Record<string, unknown>>, payload: Readonly<Record<string, unknown>>): void {
  const bad = keyClaimFault(header, payload);
  if (bad) throw new JwtVerificationError('malformed', `${bad} ${bad === 'kid' ? 'header parameter' : 'claim'} is malformed`, bad);
}

export interface VerifyJwtOptions {
  readonly algorithms: readonly string[];
  readonly typ?: string;
  readonly issuer?: string;
  readonly audience?: string | readonly string[];
  readonly subject?: string;
  readonly requiredClaims?: readonly string[];
  /** Current time, seconds (injected clock). */
  readonly currentDate: Date;
  readonly clockToleranceSeconds: number;
  readonly maxTokenAgeSeconds?: number;
}

/** Stable reasons for metrics and error descriptions. */
export type JwtFailureReason =
  | 'malformed'
  | 'bad_signature'
  | 'alg_not_allowed'
  | 'expired'
  | 'not_yet_valid'
  | 'claim_invalid'
  | 'typ_mismatch'
  /** A key set holds no key for the JWS header's kid/alg (a rotated-in key not yet fetched, say). */
  | 'no_matching_key';

export class JwtVerificationError extends CryptoInputError {
  constructor(
    readonly failure: JwtFailureReason,
    message: string,
    readonly claim?: string,
  ) {
    super(failure, message);
  }
}

export interface VerifiedJwt {
  readonly payload: JWTPayload;
  readonly header: Record<string, unknown>;
}

export async function verifyJwt(token: string, key: VerificationKey | ((h: Record<string, unknown>) => Promise<VerificationKey>), options: VerifyJwtOptions): Promise<VerifiedJwt> {
  try {
    return await joseVerify(token, key, options);
  } catch (e) {
    throw toVerificationError(e);
  }
}

/** jose's jwtVerify with our option names; jose's own errors escape. */
export async function joseVerify(token: string, key: unknown, options: VerifyJwtOptions): Promise<VerifiedJwt> {
  const result = await jwtVerify(token, key as Parameters<typeof jwtVerify>[1], {
    algorithms: [...options.algorithms],
    typ: options.typ,
    issuer: options.issuer,
    audience: options.audience === undefined ? undefined : (options.audience as string | string[]),
    subject: options.subject,
    requiredClaims: options.requiredClaims ? [...options.requiredClaims] : undefined,
    currentDate: options.currentDate,
    clockTolerance: options.clockToleranceSeconds,
    maxTokenAge: options.maxTokenAgeSeconds,
  });
  assertKeyClaims(result.protectedHeader as Record<string, unknown>, result.payload);
  return { payload: result.payload, header: result.protectedHeader as Record<string, unknown> };
}

export function toVerificationError(e: unknown): JwtVerificationError {
  if (e instanceof JwtVerificationError) return e;
  if (e instanceof errors.JWTExpired) return new JwtVerificationError('expired', 'token is expired', e.claim);
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === 'nbf' || (e.claim === 'iat' && e.reason === 'check_failed')) {
      return new JwtVerificationError('not_yet_valid', `${e.claim} is in the future`, e.claim);
    }
    if (e.claim === 'typ') return new JwtVerificationError('typ_mismatch', 'unexpected typ', e.claim);
    return new JwtVerificationError('claim_invalid', `${e.claim} claim is missing or invalid`, e.claim);
  }
  if (e instanceof errors.JOSEAlgNotAllowed) return new JwtVerificationError('alg_not_allowed', 'algorithm not allowed');
  if (e instanceof errors.JWSSignatureVerificationFailed) return new JwtVerificationError('bad_signature', 'signature verification failed');
  if (e instanceof errors.JWKSNoMatchingKey) return new JwtVerificationError('bad_signature', 'no matching key');
  return new JwtVerificationError('malformed', 'malformed token');
}

export function importPublicJwk(jwk: JWK, alg: string): Promise<CryptoKey> {
  return importJWK(jwk, alg) as Promise<CryptoKey>;
}

/** A key resolver over a JWK Set (by `kid`/`alg`), for verifying tokens this suite signed. */
export function localKeySet(jwks: { keys: JWK[] }): (header: Record<string, unknown>) => Promise<VerificationKey> {
  const set = createLocalJWKSet(jwks);
  return (header) => set(header as Parameters<typeof set>[0]) as Promise<VerificationKey>;
}

export interface RemoteKeySetOptions {
  /** How long fetched keys are trusted before a refetch, ms. */
  readonly cacheMaxAge?: number;
  /** Minimum time between refetches triggered by an unknown kid, ms. */
  readonly cooldownDuration?: number;
  readonly timeoutDuration?: number;
}

/** A cached remote JWKS (resource servers). An unknown `kid` triggers a refetch after the cooldown. */
export function remoteKeySet(url: string, options: RemoteKeySetOptions = {}): (header: Record<string, unknown>) => Promise<VerificationKey> {
  const set = createRemoteJWKSet(new URL(url), {
    cacheMaxAge: options.cacheMaxAge ?? 300_000,
    cooldownDuration: options.cooldownDuration ?? 30_000,
    timeoutDuration: options.timeoutDuration ?? 5_000,
  });
  return (header) => set(header as Parameters<typeof set>[0]) as Promise<VerificationKey>;
}

/**
 * Checks one JWS signature given as its signing input (`<header>.<payload>`, base64url) and
 * signature — for libraries that hand over the parts (the @sd-jwt verifier callbacks, VP-5). The
 * header's `alg` must be one of `algorithms`; no claim is looked at here.
 */
export async function verifyJwsSignature(signingInput: string, signature: string, key: VerificationKey, algorithms: readonly string[]): Promise<boolean> {
  const [protectedHeader, payload, extra] = signingInput.split('.');
  if (protectedHeader === undefined || payload === undefined || extra !== undefined) return false;
  try {
    await flattenedVerify({ protected: protectedHeader, payload, signature }, key, { algorithms: [...algorithms] });
    return true;
  } catch {
    return false;
  }
}
