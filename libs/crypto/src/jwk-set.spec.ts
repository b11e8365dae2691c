import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import { algorithmsForKey, checkPublicJwkSet, generateClientKeyPair, KEY_SET_ALGS, JwkSetError, keySetVerifier, parsePublicJwkSet, signJwt, type ClientKeyPair, type JWK, type VerifyJwtOptions } from './index';

const limits = { maxKeys: 5 };
const now = (): number => Math.floor(Date.now() / 1000);

async function failure(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(JwkSetError);
    return (e as JwkSetError).failure;
  }
  throw new Error('expected a JwkSetError');
}

describe('client JWK Sets (RFC 7591 jwks, JWTCA-8)', () => {
  let es256: ClientKeyPair;
  let ed: ClientKeyPair;
  let rsa: ClientKeyPair;
  beforeAll(async () => {
    [es256, ed, rsa] = await Promise.all([generateClientKeyPair('ES256'), generateClientKeyPair('Ed25519'), generateClientKeyPair('PS256')]);
  });
  const withKid = (k: ClientKeyPair, kid: string, extra: Record<string, unknown> = {}): JWK => ({ ...k.publicJwk, kid, ...extra });

  describe('what a set may hold', () => {
    it('accepts EC, Ed25519 and RSA ≥ 2048 public keys; keeps only the key members, kid, alg and use', async () => {
      const set = await parsePublicJwkSet({ keys: [withKid(es256, 'a', { use: 'sig', x5c: ['MII…'], ext: true }), withKid(ed, 'b', { alg: 'Ed25519' }), withKid(rsa, 'c')] }, limits);
      expect(set.keys.map((k) => Object.keys(k).sort())).toEqual([
        ['crv', 'kid', 'kty', 'use', 'x', 'y'],
        ['alg', 'crv', 'kid', 'kty', 'x'],
        ['e', 'kid', 'kty', 'n'],
      ]);
    });

    it('a set holding any private or symmetric member is refused entirely, whatever else is wrong with it', async () => {
      const { privateKey } = await generateKeyPair('ES256', { extractable: true });
      const privateJwk = await exportJWK(privateKey);
      for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']) {
        expect(await failure(() => checkPublicJwkSet({ keys: [withKid(es256, 'a'), withKid(es256, 'b', { [member]: 'AQAB' })] }, limits))).toBe('private_key');
      }
      expect(await failure(() => checkPublicJwkSet({ keys: [{ kty: 'oct', kid: 'h' }] }, limits))).toBe('private_key');
      expect(await failure(() => checkPublicJwkSet({ keys: [{ ...privateJwk, kid: 'x' }] }, limits))).toBe('private_key');
      // Checked before the count and before the key types: a leaked key is always named as such.
      expect(await failure(() => checkPublicJwkSet({ keys: [...Array(9).fill({ kty: 'X' }), { ...privateJwk, use: 'enc' }] }, limits))).toBe('private_key');
    });

    it('refuses malformed sets, too many keys, unsupported or weak keys, and an alg that does not fit the key', async () => {
      for (const bad of [null, [], 'keys', { keys: {} }, { keys: ['x'] }]) expect(await failure(() => checkPublicJwkSet(bad, limits))).toBe('malformed_jwks');
      expect(await failure(() => checkPublicJwkSet({ keys: [] }, limits))).toBe('no_keys');
      expect(await failure(() => checkPublicJwkSet({ keys: Array.from({ length: 6 }, (_, i) => withKid(es256, `k${i}`)) }, limits))).toBe('too_many_keys');
      expect(await failure(() => checkPublicJwkSet({ keys: [{ kty: 'EC', crv: 'secp256k1', x: 'AA', y: 'AA' }] }, limits))).toBe('unsupported_key_type');
      const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
      expect(await failure(() => checkPublicJwkSet({ keys: [weak] }, limits))).toBe('weak_key');
      expect(await failure(() => checkPublicJwkSet({ keys: [withKid(es256, 'a', { alg: 'RS256' })] }, limits))).toBe('alg_mismatch');
      expect(await failure(() => checkPublicJwkSet({ keys: [withKid(es256, 'a', { alg: 'HS256' })] }, limits))).toBe('alg_mismatch');
      expect(await failure(() => checkPublicJwkSet({ keys: [withKid(es256, 'a', { alg: 'none' })] }, limits))).toBe('alg_mismatch');
      expect(await failure(() => checkPublicJwkSet({ keys: [{ ...es256.publicJwk, x: 'not base64url!' }] }, limits))).toBe('malformed_key');
      for (const kid of ['', 'k\u0000', 'k'.repeat(257), 7]) expect(await failure(() => checkPublicJwkSet({ keys: [withKid(es256, kid as string)] }, limits))).toBe('malformed_key');
    });

    it('with more than one signing key every key has a unique kid; encryption keys are left out', async () => {
      expect(await failure(() => checkPublicJwkSet({ keys: [withKid(es256, 'a'), es256.publicJwk] }, limits))).toBe('missing_kid');
      expect(await failure(() => checkPublicJwkSet({ keys: [withKid(es256, 'a'), withKid(ed, 'a')] }, limits))).toBe('duplicate_kid');
      expect(checkPublicJwkSet({ keys: [es256.publicJwk] }, limits).keys).toHaveLength(1);
      const set = checkPublicJwkSet({ keys: [withKid(es256, 'sig'), { kty: 'OKP', crv: 'X25519', x: 'AA', use: 'enc' }, { ...ed.publicJwk, key_ops: ['encrypt'] }] }, limits);
      expect(set.keys.map((k) => k.kid)).toEqual(['sig']);
      expect(await failure(() => checkPublicJwkSet({ keys: [{ ...es256.publicJwk, use: 'enc' }] }, limits))).toBe('no_keys');
    });

    it('a key that does not import (a point off the curve) is refused when the set is parsed', async () => {
      const offCurve = { ...es256.publicJwk, y: Buffer.alloc(32, 7).toString('base64url') };
      expect(checkPublicJwkSet({ keys: [offCurve] }, limits).keys).toHaveLength(1);
      expect(await failure(parsePublicJwkSet({ keys: [offCurve] }, limits))).toBe('malformed_key');
    });
  });

  it('META-3: every algorithm a device key may sign with is one of KEY_SET_ALGS (the metadata lists one list)', () => {
    for (const jwk of [{ kty: 'EC', crv: 'P-256' }, { kty: 'OKP', crv: 'Ed25519' }, { kty: 'RSA' }]) expect(KEY_SET_ALGS).toEqual(expect.arrayContaining([...algorithmsForKey(jwk)]));
    expect(KEY_SET_ALGS).not.toEqual(expect.arrayContaining(['none']));
    expect(KEY_SET_ALGS.filter((a) => a.startsWith('HS'))).toEqual([]);
  });

  describe('verifying with a set', () => {
    const options = (): VerifyJwtOptions => ({ algorithms: ['ES256', 'Ed25519', 'PS256', 'EdDSA'], currentDate: new Date(), clockToleranceSeconds: 5, requiredClaims: ['exp'] });
    const sign = (k: ClientKeyPair, header: Record<string, unknown> = {}, claims: Record<string, unknown> = {}): Promise<string> =>
      signJwt({ iss: 'c', exp: now() + 60, jti: randomUUID(), ...claims }, { alg: k.alg, ...header }, k.privateKey);

    it('selects by kid; without a kid, tries every key that fits the alg', async () => {
      const verify = keySetVerifier(checkPublicJwkSet({ keys: [withKid(es256, 'a'), withKid(ed, 'b'), withKid(rsa, 'c')] }, limits));
      await expect(verify(await sign(es256, { kid: 'a' }), options())).resolves.toMatchObject({ payload: { iss: 'c' } });
      await expect(verify(await sign(rsa), options())).resolves.toMatchObject({ payload: { iss: 'c' } });
      const other = await generateClientKeyPair('ES256');
      await expect(verify(await sign(other), options())).rejects.toMatchObject({ failure: 'bad_signature' });
      await expect(verify(await sign(other, { kid: 'a' }), options())).rejects.toMatchObject({ failure: 'bad_signature' });
    });

    it('an unknown kid is no_matching_key (the caller may refetch), unlike a bad signature', async () => {
      const verify = keySetVerifier(checkPublicJwkSet({ keys: [withKid(es256, 'a')] }, limits));
      await expect(verify(await sign(es256, { kid: 'rotated' }), options())).rejects.toMatchObject({ failure: 'no_matching_key' });
    });

    it('a key pinned to an alg verifies only that alg; algorithms outside the allow-list never reach a key', async () => {
      const verify = keySetVerifier(checkPublicJwkSet({ keys: [withKid(rsa, 'c', { alg: 'RS256' })] }, limits));
      await expect(verify(await sign(rsa, { kid: 'c' }), { ...options(), algorithms: ['PS256', 'RS256'] })).rejects.toMatchObject({ failure: 'no_matching_key' });
      const open = keySetVerifier(checkPublicJwkSet({ keys: [withKid(es256, 'a')] }, limits));
      await expect(open(await sign(es256, { kid: 'a' }), { ...options(), algorithms: ['RS256'] })).rejects.toMatchObject({ failure: 'alg_not_allowed' });
    });

    it('claims are checked once the signature holds (expired), also when several keys fit', async () => {
      const other = await generateClientKeyPair('ES256');
      const verify = keySetVerifier(checkPublicJwkSet({ keys: [withKid(other, 'x'), withKid(es256, 'a')] }, limits));
      await expect(verify(await sign(es256, {}, { exp: now() - 60 }), options())).rejects.toMatchObject({ failure: 'expired' });
      await expect(verify(await sign(es256), options())).resolves.toMatchObject({ header: { alg: 'ES256' } });
    });
  });
});
