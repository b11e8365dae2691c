import {
  decodeJwtUnverified,
  JwkSetError,
  JwtVerificationError,
  KEY_SET_ALGS,
  keySetVerifier,
  parsePublicJwkSet,
  type JWTPayload,
  type PublicJwkSet,
} from '@fpa/crypto';
import type { EntityMetadata, MetadataPolicy } from '../policy/policy-values';
import { TrustChainError, type TrustChainFailure } from './trust-chain-error';

/** OpenID Federation 1.0 §3: the JWS `typ` and the media type of entity statements. */
export const ENTITY_STATEMENT_TYP = 'entity-statement+jwt';
export const ENTITY_STATEMENT_MEDIA_TYPE = 'application/entity-statement+jwt';
export const WELL_KNOWN_OPENID_FEDERATION = '/.well-known/openid-federation';

/** Most keys an entity statement's `jwks` may hold. */
const MAX_STATEMENT_KEYS = 20;

/** A verified entity statement: an entity configuration (iss = sub) or a subordinate statement. */
export interface EntityStatement {
  readonly jwt: string;
  readonly iss: string;
  readonly sub: string;
  readonly iat: number;
  readonly exp: number;
  /** The subject's federation entity keys, as the issuer states them. */
  readonly jwks: PublicJwkSet;
  readonly authorityHints: readonly string[];
  readonly metadata: EntityMetadata;
  readonly metadataPolicy: MetadataPolicy;
  readonly metadataPolicyCrit: readonly string[];
}

export interface StatementExpectations {
  readonly iss: string;
  readonly sub: string;
  /** Seconds (injected clock). */
  readonly now: number;
  readonly clockSkewSeconds: number;
  readonly maxLength: number;
}

/**
 * The `jwks` a statement states, read before its signature is checked: an entity configuration is
 * signed with one of its own keys (§3.1), so they are needed to verify it. Nothing else read here
 * is used until `verifyEntityStatement` has checked the signature.
 */
export async function statedKeys(jwt: string, maxLength: number): Promise<PublicJwkSet> {
  if (jwt.length > maxLength) throw new TrustChainError('too_large', `statement is larger than ${maxLength} bytes`);
  let payload: JWTPayload;
  try {
    payload = decodeJwtUnverified(jwt, { maxLength }).payload;
  } catch {
    throw new TrustChainError('malformed', 'not a compact JWS with a JSON payload');
  }
  return keysOf(payload, 'the statement');
}

/**
 * §3 and §10.2: verifies one statement with `keys` — the signature (asymmetric algorithms only),
 * `typ: entity-statement+jwt`, `iss` and `sub` as expected, `iat` not in the future and `exp` not
 * past (with the configured skew), a `jwks` of public keys, the shapes of `authority_hints`,
 * `metadata` and `metadata_policy`, and no `crit` claim the suite does not understand.
 */
export async function verifyEntityStatement(jwt: string, keys: PublicJwkSet, expect: StatementExpectations): Promise<EntityStatement> {
  if (jwt.length > expect.maxLength) throw new TrustChainError('too_large', `statement by ${expect.iss} is larger than ${expect.maxLength} bytes`);
  let payload: JWTPayload;
  try {
    ({ payload } = await keySetVerifier(keys)(jwt, {
      algorithms: KEY_SET_ALGS,
      typ: ENTITY_STATEMENT_TYP,
      requiredClaims: ['iss', 'sub', 'iat', 'exp'],
      currentDate: new Date(expect.now * 1000),
      clockToleranceSeconds: expect.clockSkewSeconds,
    }));
  } catch (e) {
    if (e instanceof JwtVerificationError) throw new TrustChainError(jwtFailure(e), `statement about ${expect.sub} by ${expect.iss}: ${e.message}`);
    throw e;
  }
  const about = `statement about ${expect.sub} by ${expect.iss}`;
  if (payload.iss !== expect.iss) throw new TrustChainError('issuer_mismatch', `${about}: iss is ${JSON.stringify(payload.iss)}`);
  if (payload.sub !== expect.sub) throw new TrustChainError('subject_mismatch', `${about}: sub is ${JSON.stringify(payload.sub)}`);
  // jose checks exp; iat in the future is refused here whatever the jose version.
  if (typeof payload.iat !== 'number' || payload.iat > expect.now + expect.clockSkewSeconds) throw new TrustChainError('not_yet_valid', `${about}: iat is in the future`);
  if (typeof payload.exp !== 'number') throw new TrustChainError('malformed', `${about}: exp is missing`);
  // §3: a `crit` claim lists extension claims that must be understood; the suite understands none.
  if (payload.crit !== undefined) throw new TrustChainError('unsupported_critical', `${about}: crit names claims this server does not understand`);
  return {
    jwt,
    iss: payload.iss,
    sub: payload.sub,
    iat: payload.iat,
    exp: payload.exp,
    jwks: await keysOf(payload, about),
    authorityHints: stringList(payload.authority_hints, `${about}: authority_hints`),
    metadata: objectOfObjects(payload.metadata, `${about}: metadata`) as EntityMetadata,
    metadataPolicy: objectOfObjects(payload.metadata_policy, `${about}: metadata_policy`) as MetadataPolicy,
    metadataPolicyCrit: stringList(payload.metadata_policy_crit, `${about}: metadata_policy_crit`),
  };
}

async function keysOf(payload: JWTPayload, about: string): Promise<PublicJwkSet> {
  if (payload.jwks === undefined) throw new TrustChainError('malformed', `${about} has no jwks`);
  try {
    return await parsePublicJwkSet(payload.jwks, { maxKeys: MAX_STATEMENT_KEYS });
  } catch (e) {
    if (e instanceof JwkSetError) throw new TrustChainError('malformed', `${about}: jwks ${e.message}`);
    throw e;
  }
}

function jwtFailure(e: JwtVerificationError): TrustChainFailure {
  switch (e.failure) {
    case 'typ_mismatch':
      return 'typ_mismatch';
    case 'expired':
      return 'expired';
    case 'not_yet_valid':
      return 'not_yet_valid';
    case 'bad_signature':
    case 'no_matching_key':
    case 'alg_not_allowed':
      return 'bad_signature';
    default:
      return 'malformed';
  }
}

function stringList(v: unknown, what: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new TrustChainError('malformed', `${what} must be an array of strings`);
  return v as string[];
}

function objectOfObjects(v: unknown, what: string): Record<string, Record<string, unknown>> {
  if (v === undefined) return {};
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!isObj(v) || !Object.values(v).every(isObj)) throw new TrustChainError('malformed', `${what} must be an object of objects`);
  return v as Record<string, Record<string, unknown>>;
}
