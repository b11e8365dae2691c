import { createHmac, KeyObject, randomBytes, sign as nodeSign } from 'node:crypto';
import fc from 'fast-check';
import type { ClientKeyPair } from '@fpa/crypto';
import { hostileJson, hostileString } from './values';

/**
 * Hostile JWTs for client assertions, DPoP proofs and access tokens: what an attacker controls in
 * each (every claim of a proof, since it embeds its own key), signed for real where a signature is
 * what would let the hostile claim through, and the classic forgeries (alg none, HS256 keyed with
 * the public key, `crit`, a private or huge `jwk`).
 */

export const HEADER_ATTACKS = [
  'valid',
  'none',
  'hs256-public-jwk',
  'hs256-public-pem',
  'crit-unknown',
  'crit-exp',
  'crit-not-array',
  'private-jwk',
  'huge-jwk',
  'oversized-jwk',
  'oct-jwk',
  'no-jwk',
  'typ-wrong',
  'alg-unknown',
  'alg-not-string',
  'kid-hostile',
  'b64-false',
  'not-json',
  'array',
] as const;
export type HeaderAttack = (typeof HEADER_ATTACKS)[number];

export const SIGNATURE_ATTACKS = ['valid', 'empty', 'random', 'other-key', 'truncated'] as const;
export const SHAPE_ATTACKS = ['compact', 'four-parts', 'two-parts', 'bad-base64', 'padded', 'whitespace', 'payload-not-json'] as const;

export interface JwtPlan {
  readonly header: HeaderAttack;
  /** One claim replaced by a hostile value (`undefined` value: the claim is removed). */
  readonly claim: { readonly name: string; readonly value: unknown } | undefined;
  readonly signature: (typeof SIGNATURE_ATTACKS)[number];
  readonly shape: (typeof SHAPE_ATTACKS)[number];
  readonly hostile: string;
}

/** Mostly one attack at a time on an otherwise valid JWT, so each reaches the check it aims at. */
export function jwtPlan(claimNames: readonly string[]): fc.Arbitrary<JwtPlan> {
  const claim = fc.option(
    fc.record({ name: fc.oneof(fc.constantFrom(...claimNames), hostileString.filter((s) => s.length < 40)), value: fc.option(hostileJson, { nil: undefined }) }),
    { nil: undefined, freq: 2 },
  );
  return fc.record({
    header: fc.oneof({ arbitrary: fc.constant<HeaderAttack>('valid'), weight: 3 }, { arbitrary: fc.constantFrom(...HEADER_ATTACKS), weight: 2 }),
    claim,
    signature: fc.oneof({ arbitrary: fc.constant<'valid'>('valid'), weight: 6 }, { arbitrary: fc.constantFrom(...SIGNATURE_ATTACKS), weight: 1 }),
    shape: fc.oneof({ arbitrary: fc.constant<'compact'>('compact'), weight: 8 }, { arbitrary: fc.constantFrom(...SHAPE_ATTACKS), weight: 1 }),
    hostile: hostileString,
  });
}

export interface JwtBase {
  readonly header: Record<string, unknown>;
  readonly claims: Record<string, unknown>;
  /** Signs for real; `other` for the other-key attack. */
  readonly key: ClientKeyPair;
  readonly other: ClientKeyPair;
  readonly publicPem: string;
  readonly privateJwk: Record<string, unknown>;
}

const b64u = (v: string | Buffer): string => Buffer.from(v).toString('base64url');
const keyObject = (k: ClientKeyPair): KeyObject => KeyObject.from(k.privateKey);

export function buildJwt(plan: JwtPlan, base: JwtBase): string {
  const header: Record<string, unknown> = { ...base.header };
  let alg = String(header.alg ?? 'ES256');
  switch (plan.header) {
    case 'none':
      header.alg = alg = 'none';
      break;
    case 'hs256-public-jwk':
    case 'hs256-public-pem':
      header.alg = alg = 'HS256';
      break;
    case 'crit-unknown':
      header.crit = ['urn:x-unknown'];
      header['urn:x-unknown'] = true;
      break;
    case 'crit-exp':
      header.crit = ['exp'];
      break;
    case 'crit-not-array':
      header.crit = plan.hostile;
      break;
    case 'private-jwk':
      header.jwk = base.privateJwk;
      break;
    case 'huge-jwk':
      header.jwk = { ...(header.jwk as object), x5c: [randomBytes(4500).toString('base64')] };
      break;
    case 'oversized-jwk':
      header.jwk = { ...(header.jwk as object), n: randomBytes(30_000).toString('base64url'), e: 'AQAB' };
      break;
    case 'oct-jwk':
      header.jwk = { kty: 'oct', k: b64u('secret') };
      break;
    case 'no-jwk':
      delete header.jwk;
      break;
    case 'typ-wrong':
      header.typ = plan.hostile;
      break;
    case 'alg-unknown':
      header.alg = alg = 'ES999';
      break;
    case 'alg-not-string':
      header.alg = ['ES256'];
      break;
    case 'kid-hostile':
      header.kid = plan.hostile;
      break;
    case 'b64-false':
      header.b64 = false;
      header.crit = ['b64'];
      break;
    default:
      break;
  }
  const claims: Record<string, unknown> = { ...base.claims };
  if (plan.claim) {
    if (plan.claim.value === undefined) delete claims[plan.claim.name];
    else claims[plan.claim.name] = plan.claim.value;
  }
  const headerPart = plan.header === 'not-json' ? b64u(`{"alg":"${alg}"`) : plan.header === 'array' ? b64u(JSON.stringify([header])) : b64u(JSON.stringify(header));
  const payloadPart = plan.shape === 'payload-not-json' ? b64u(plan.hostile) : b64u(JSON.stringify(claims));
  const input = `${headerPart}.${payloadPart}`;
  let signature: string;
  if (alg === 'none') signature = '';
  else if (alg === 'HS256') signature = createHmac('sha256', plan.header === 'hs256-public-pem' ? base.publicPem : JSON.stringify(base.key.publicJwk)).update(input).digest('base64url');
  else {
    const signer = plan.signature === 'other-key' ? base.other : base.key;
    signature = nodeSign('sha256', Buffer.from(input), { key: keyObject(signer), dsaEncoding: 'ieee-p1363' }).toString('base64url');
  }
  if (plan.signature === 'empty') signature = '';
  if (plan.signature === 'random') signature = randomBytes(64).toString('base64url');
  if (plan.signature === 'truncated') signature = signature.slice(0, 20);
  switch (plan.shape) {
    case 'four-parts':
      return `${input}.${signature}.x`;
    case 'two-parts':
      return input;
    case 'bad-base64':
      return `${headerPart}.${payloadPart}*!.${signature}`;
    case 'padded':
      return `${headerPart}==.${payloadPart}.${signature}`;
    case 'whitespace':
      return `${input} .${signature}`;
    default:
      return `${input}.${signature}`;
  }
}
