import { generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import vectors from '../../../test/fixtures/rfc-vectors.json';
import { thumbprint } from './index';

/**
 * `thumbprint` hashes EC, OKP and RSA keys itself (synchronous SHA-256, issue 13) and hands every
 * other key to jose: both must give jose's answer — and jose's errors — for every input.
 */
describe('RFC 7638 thumbprint agrees with jose (VEC-1, VEC-2)', () => {
  const publicJwk = (type: 'ec' | 'ed25519' | 'rsa'): JWK =>
    (type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : type === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ed25519')
    ).publicKey.export({ format: 'jwk' }) as JWK;

  it.each(['ec', 'ed25519', 'rsa'] as const)('a fresh %s key, bare and with alg/kid/use members', async (type) => {
    for (let i = 0; i < 5; i++) {
      const jwk = publicJwk(type);
      expect(await thumbprint(jwk)).toBe(await calculateJwkThumbprint(jwk, 'sha256'));
      const decorated = { ...jwk, alg: 'X', kid: 'some kid', use: 'sig', ext: true };
      expect(await thumbprint(decorated)).toBe(await calculateJwkThumbprint(jwk, 'sha256'));
    }
  });

  it('the RFC vectors', async () => {
    expect(await thumbprint(vectors.rfc7638.jwk)).toBe(vectors.rfc7638.thumbprint_sha256);
    expect(await thumbprint(vectors.rfc9449.jwk)).toBe('0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I');
  });

  it('member values JSON must escape are hashed as jose hashes them', async () => {
    const odd = { kty: 'EC', crv: 'P-256"\\', x: 'a"b', y: '\u0001\u007f' };
    expect(await thumbprint(odd)).toBe(await calculateJwkThumbprint(odd, 'sha256'));
    // jose refuses a non-ASCII canonical form; so does thumbprint.
    const nonAscii = { kty: 'EC', crv: 'P-256', x: 'é', y: '\u2028' };
    await expect(calculateJwkThumbprint(nonAscii, 'sha256')).rejects.toThrow('non-ASCII');
    await expect(thumbprint(nonAscii)).rejects.toThrow('non-ASCII');
    // A member order other than the canonical one changes nothing.
    expect(await thumbprint({ y: 'c', x: 'b', crv: 'P-256', kty: 'EC' })).toBe(await thumbprint({ kty: 'EC', crv: 'P-256', x: 'b', y: 'c' }));
  });

  it('other key types and malformed members go to jose, with its result or its error', async () => {
    const oct = { kty: 'oct', k: 'c2VjcmV0' };
    expect(await thumbprint(oct)).toBe(await calculateJwkThumbprint(oct, 'sha256'));
    for (const bad of [{ kty: 'EC', crv: 'P-256', x: 'a' }, { kty: 'EC', crv: 'P-256', x: '', y: 'b' }, { kty: 'RSA', n: 5, e: 'AQAB' }, { kty: 'nope' }] as unknown as JWK[]) {
      const expected = await calculateJwkThumbprint(bad, 'sha256').then(
        () => 'resolved',
        (e: Error) => e.message,
      );
      expect(expected).not.toBe('resolved');
      await expect(thumbprint(bad)).rejects.toThrow(expected);
    }
  });
});
