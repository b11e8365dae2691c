import { createSymmetricPopProof, decryptPopKey, encryptPopKeyForResourceServer, generateResourceServerPopKey, generateSymmetricPopKey, importResourceServerPopKey, verifySymmetricPopProof } from './pop';
import { CryptoInputError } from './errors';

/** Issue 12: the symmetric PoP key in `cnf.jwe` (CNF-2) and its HMAC proof (docs/pop-tokens.md). */
describe('symmetric PoP keys', () => {
  const now = Math.floor(Date.now() / 1000);
  const opts = { htm: 'GET', htu: 'https://api.example.com/me', accessToken: 'token', nowSeconds: now, maxAgeSeconds: 60, skewSeconds: 5 };

  it('a generated key is 256 bits from the CSPRNG, different every time', () => {
    const a = generateSymmetricPopKey();
    expect(Buffer.from(a.jwk.k, 'base64url')).toHaveLength(32);
    expect(generateSymmetricPopKey().jwk.k).not.toBe(a.jwk.k);
  });

  it('cnf.jwe opens only with the private key of the resource server it was encrypted for', async () => {
    const rs = await generateResourceServerPopKey();
    const other = await generateResourceServerPopKey();
    const key = generateSymmetricPopKey();
    const jwe = await encryptPopKeyForResourceServer(key, rs.publicJwk);
    expect(jwe).not.toContain(key.jwk.k);
    expect(await decryptPopKey(jwe, await importResourceServerPopKey(rs.privateJwk))).toEqual(key);
    await expect(decryptPopKey(jwe, await importResourceServerPopKey(other.privateJwk))).rejects.toBeInstanceOf(CryptoInputError);
  });

  it('the resource server key must be a private key', async () => {
    const rs = await generateResourceServerPopKey();
    await expect(importResourceServerPopKey(rs.publicJwk)).rejects.toBeInstanceOf(CryptoInputError);
  });

  it('an HMAC proof verifies with its key and is refused with another key, another htu/htm, another token, or out of its window', async () => {
    const key = generateSymmetricPopKey();
    const proof = await createSymmetricPopProof(key, opts);
    await expect(verifySymmetricPopProof(proof, key, opts)).resolves.toMatchObject({ iat: expect.any(Number) });
    const refusedWith = async (p: Promise<unknown>, reason: string) => expect(p).rejects.toMatchObject({ reason });
    await refusedWith(verifySymmetricPopProof(proof, generateSymmetricPopKey(), opts), 'signature');
    await refusedWith(verifySymmetricPopProof(proof, key, { ...opts, htu: 'https://api.example.com/other' }), 'htu');
    await refusedWith(verifySymmetricPopProof(proof, key, { ...opts, htm: 'POST' }), 'htm');
    await refusedWith(verifySymmetricPopProof(proof, key, { ...opts, accessToken: 'another' }), 'ath');
    await refusedWith(verifySymmetricPopProof(proof, key, { ...opts, nowSeconds: now + 600 }), 'iat');
    await refusedWith(verifySymmetricPopProof('a.b', key, opts), 'malformed');
  });
});
