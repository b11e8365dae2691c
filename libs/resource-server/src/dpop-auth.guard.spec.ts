import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Request } from 'express';
import { createDpopProof, generateClientKeyPair, generateSigningKey, importPrivateJwk, signJwt, type ClientKeyPair, type GeneratedKeyPair, type JWK } from '@fpa/crypto';
import { OAuthError } from '@fpa/oauth-core';
import { MemoryStore } from '@fpa/store';
import { DEFAULT_JWKS_CACHE_SECONDS, DpopAuthGuard } from './dpop-auth.guard';

const ISSUER = 'https://auth.example.com';
const AUDIENCE = 'https://auth.example.com/resources';
const API = 'https://api.example.com';

/**
 * The guard's remote JWKS cache against docs/operations.md ("Rotate signing keys"): a key retired
 * at the AS keeps verifying here until the cached JWKS is older than `keys.cacheSeconds`, then
 * stops. A real HTTP server plays the AS's `/jwks`.
 */
describe('DpopAuthGuard with a remote JWKS', () => {
  let server: Server;
  let served: JWK[] = [];
  let fetches = 0;
  let jwksUri = '';
  let signing: GeneratedKeyPair;
  let dpopKey: ClientKeyPair;
  const stores: MemoryStore[] = [];

  beforeAll(async () => {
    server = createServer((_req, res) => {
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: served }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
    signing = await generateSigningKey('ES256');
    dpopKey = await generateClientKeyPair();
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    served = [signing.publicJwk];
    fetches = 0;
  });

  const guard = (cacheSeconds?: number): DpopAuthGuard => {
    const store = new MemoryStore(Date.now, { genesis: true });
    stores.push(store);
    return new DpopAuthGuard({ issuer: ISSUER, audience: AUDIENCE, keys: { jwksUri, cacheSeconds }, publicBaseUrl: API, store });
  };

  async function accessToken(): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: ISSUER, sub: 'device-app', aud: AUDIENCE, client_id: 'device-app', iat: now, exp: now + 300, jti: `at-${now}-${Math.random()}`, cnf: { jkt: dpopKey.jkt } };
    return signJwt(claims, { alg: signing.alg, kid: signing.kid, typ: 'at+jwt' }, await importPrivateJwk(signing.privateJwk, signing.alg));
  }

  /** A request to GET /orders with the token and a fresh proof bound to it. */
  async function request(token: string): Promise<Request> {
    const proof = await createDpopProof(dpopKey, { htm: 'GET', htu: `${API}/orders`, accessToken: token });
    return { headers: { authorization: `DPoP ${token}`, dpop: proof }, method: 'GET', originalUrl: '/orders' } as unknown as Request;
  }

  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  it('a retired key keeps verifying while the JWKS is cached, and is refused once the cache time has passed', async () => {
    const g = guard(0.4);
    const token = await accessToken();
    await expect(g.authenticate(await request(token))).resolves.toMatchObject({ clientId: 'device-app', jkt: dpopKey.jkt });
    expect(fetches).toBe(1);

    served = []; // `keys retire <kid>` at the AS
    await expect(g.authenticate(await request(token))).resolves.toMatchObject({ clientId: 'device-app' });
    expect(fetches).toBe(1);

    await sleep(600);
    const refused = g.authenticate(await request(token));
    await expect(refused).rejects.toBeInstanceOf(OAuthError);
    await expect(refused).rejects.toMatchObject({ code: 'invalid_token', status: 401 });
    expect(fetches).toBe(2);
  });

  it('without cacheSeconds the JWKS is trusted for the default (60 s, the max-age of /jwks), not refetched per request', async () => {
    expect(DEFAULT_JWKS_CACHE_SECONDS).toBe(60);
    const g = guard();
    const token = await accessToken();
    await expect(g.authenticate(await request(token))).resolves.toMatchObject({ clientId: 'device-app' });
    served = [];
    await sleep(600);
    await expect(g.authenticate(await request(token))).resolves.toMatchObject({ clientId: 'device-app' });
    expect(fetches).toBe(1);
  });
});
