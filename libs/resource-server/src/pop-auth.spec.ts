import type { Request } from 'express';
import {
  createDpopProof,
  createSymmetricPopProof,
  encryptPopKeyForResourceServer,
  generateClientKeyPair,
  generateResourceServerPopKey,
  generateSigningKey,
  generateSymmetricPopKey,
  importPrivateJwk,
  importResourceServerPopKey,
  localKeySet,
  signJwt,
  type GeneratedKeyPair,
  type JWK,
} from '@fpa/crypto';
import { OAuthError } from '@fpa/oauth-core';
import { MemoryStore } from '@fpa/store';
import { DpopAuthGuard } from './dpop-auth.guard';

const ISSUER = 'https://auth.example.com';
const AUDIENCE = 'https://api.example.com/resources';
const API = 'https://api.example.com';

/**
 * Issue 12: PoP tokens at the guard (seed 001 (E)/(F), CNF-3): the symmetric key out of `cnf.jwe`
 * with this server's key only, the HMAC proof, replay, and `WWW-Authenticate: PoP` refusals.
 */
describe('DpopAuthGuard with PoP tokens', () => {
  let signing: GeneratedKeyPair;
  let rs: { publicJwk: JWK; privateJwk: JWK };
  let other: { publicJwk: JWK; privateJwk: JWK };
  const stores: MemoryStore[] = [];

  beforeAll(async () => {
    signing = await generateSigningKey('ES256');
    rs = await generateResourceServerPopKey();
    other = await generateResourceServerPopKey();
  });
  afterAll(async () => Promise.all(stores.map((s) => s.close())));

  /** `null`: a server configured for PoP without a decryption key (client keys only). */
  const guard = async (decryption: JWK | null = rs.privateJwk): Promise<DpopAuthGuard> => {
    const store = new MemoryStore(Date.now, { genesis: true });
    stores.push(store);
    return new DpopAuthGuard({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: { resolve: localKeySet({ keys: [signing.publicJwk] }) },
      publicBaseUrl: API,
      store,
      checkRevocation: false,
      pop: { decryptionKey: decryption ? await importResourceServerPopKey(decryption) : undefined },
    });
  };

  async function token(cnf: Record<string, unknown>): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: ISSUER, sub: 'app', aud: AUDIENCE, client_id: 'app', iat: now, exp: now + 300, jti: `at-${Math.random()}`, cnf };
    return signJwt(claims, { alg: signing.alg, kid: signing.kid, typ: 'at+jwt' }, await importPrivateJwk(signing.privateJwk, signing.alg));
  }
  const request = (at: string, proof: string | undefined, scheme = 'PoP'): Request =>
    ({ headers: { authorization: `${scheme} ${at}`, ...(proof ? { pop: proof } : {}) }, method: 'GET', originalUrl: '/orders' }) as unknown as Request;
  const htu = `${API}/orders`;
  const refused = async (p: Promise<unknown>, code: string): Promise<void> => {
    await expect(p).rejects.toBeInstanceOf(OAuthError);
    await expect(p).rejects.toMatchObject({ code, headers: { 'WWW-Authenticate': expect.stringMatching(new RegExp(`^PoP error="${code}"`)) } });
  };

  it('a symmetric PoP token: accepted with the HMAC proof, refused on replay', async () => {
    const g = await guard();
    const key = generateSymmetricPopKey();
    const at = await token({ jwe: await encryptPopKeyForResourceServer(key, rs.publicJwk) });
    const proof = await createSymmetricPopProof(key, { htm: 'GET', htu, accessToken: at });
    await expect(g.authenticate(request(at, proof))).resolves.toMatchObject({ scheme: 'PoP', jkt: key.jwk.kid, clientId: 'app' });
    await refused(g.authenticate(request(at, proof)), 'invalid_token');
  });

  it('a cnf.jwe encrypted for another resource server (same aud) is refused; so is any symmetric token at a server without a key', async () => {
    const key = generateSymmetricPopKey();
    const at = await token({ jwe: await encryptPopKeyForResourceServer(key, other.publicJwk) });
    const proof = await createSymmetricPopProof(key, { htm: 'GET', htu, accessToken: at });
    await refused((await guard()).authenticate(request(at, proof)), 'invalid_token');
    const mine = await token({ jwe: await encryptPopKeyForResourceServer(key, rs.publicJwk) });
    await refused((await guard(null)).authenticate(request(mine, await createSymmetricPopProof(key, { htm: 'GET', htu, accessToken: mine }))), 'invalid_token');
  });

  it('a client-key PoP token: the DPoP-style proof by cnf.jwk passes; a DPoP token presented as PoP, or a PoP one as DPoP, does not', async () => {
    const g = await guard();
    const client = await generateClientKeyPair();
    const at = await token({ jwk: client.publicJwk });
    await expect(g.authenticate(request(at, await createDpopProof(client, { htm: 'GET', htu, accessToken: at })))).resolves.toMatchObject({ scheme: 'PoP', jkt: client.jkt });
    const dpopToken = await token({ jkt: client.jkt });
    await refused(g.authenticate(request(dpopToken, await createDpopProof(client, { htm: 'GET', htu, accessToken: dpopToken }))), 'invalid_token');
    const asDpop = { headers: { authorization: `DPoP ${at}`, dpop: await createDpopProof(client, { htm: 'GET', htu, accessToken: at }) }, method: 'GET', originalUrl: '/orders' } as unknown as Request;
    await expect(g.authenticate(asDpop)).rejects.toMatchObject({ code: 'invalid_token' });
  });

  it('a token for another audience → PoP invalid_token', async () => {
    const g = await guard();
    const client = await generateClientKeyPair();
    const now = Math.floor(Date.now() / 1000);
    const at = await signJwt(
      { iss: ISSUER, sub: 'app', aud: 'https://elsewhere.example', client_id: 'app', iat: now, exp: now + 300, jti: 'x', cnf: { jwk: client.publicJwk } },
      { alg: signing.alg, kid: signing.kid, typ: 'at+jwt' },
      await importPrivateJwk(signing.privateJwk, signing.alg),
    );
    await refused(g.authenticate(request(at, await createDpopProof(client, { htm: 'GET', htu, accessToken: at }))), 'invalid_token');
  });
});
