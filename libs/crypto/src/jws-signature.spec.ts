import { generateKeyPairSync } from 'node:crypto';
import { signJwt, verifyJwsSignature } from './jwt';

describe('verifyJwsSignature (signing input + signature, for the @sd-jwt verifier callbacks)', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;

  it('is true for the signer key and an allowed alg, false otherwise', async () => {
    const jws = await signJwt({ a: 1 }, { alg: 'ES256', typ: 'dc+sd-jwt' }, privateKey);
    const [h, p, s] = jws.split('.');
    expect(await verifyJwsSignature(`${h}.${p}`, s, publicKey, ['ES256'])).toBe(true);
    expect(await verifyJwsSignature(`${h}.${p}`, s, other, ['ES256'])).toBe(false);
    expect(await verifyJwsSignature(`${h}.${p}`, s, publicKey, ['ES384'])).toBe(false);
    const altered = Buffer.from(JSON.stringify({ a: 2 })).toString('base64url');
    expect(await verifyJwsSignature(`${h}.${altered}`, s, publicKey, ['ES256'])).toBe(false);
    expect(await verifyJwsSignature(`${h}.${p}.x`, s, publicKey, ['ES256'])).toBe(false);
  });
});
