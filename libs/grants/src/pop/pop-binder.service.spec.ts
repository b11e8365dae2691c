import { generateClientKeyPair, generateResourceServerPopKey, type JWK } from '@fpa/crypto';
import type { ValidatedDpopProof } from '@fpa/dpop';
import { OAuthError } from '@fpa/oauth-core';
import { FakePopKeys, testClient, testClock, testPopBinder } from '../testing/fakes';
import { parseResourceServers, type PopResourceServer } from './pop-resource-servers';
import type { PopBinder } from './pop-binder.service';

/** Issue 12: which PoP key a token request gets (ACE-1, ACE-2, ACE-4, ACE-5), without HTTP. */
describe('PopBinder', () => {
  const API = 'https://api.example.com';
  let binder: PopBinder;
  let keys: FakePopKeys;
  let rs: { publicJwk: JWK };
  let clientKey: Awaited<ReturnType<typeof generateClientKeyPair>>;
  const client = testClient();
  const proofBy = (jkt: string): ValidatedDpopProof => ({ jkt, jwk: {}, jti: 'j', iat: 0, nonce: 'n', replayClaim: { key: 'k', ttlSeconds: 60 } });

  beforeEach(async () => {
    rs = await generateResourceServerPopKey();
    clientKey = await generateClientKeyPair();
    keys = new FakePopKeys();
    const servers: PopResourceServer[] = [{ identifier: API, jwk: rs.publicJwk, keyTypes: ['EC', 'oct'] }];
    binder = testPopBinder(testClock(), servers, keys);
  });

  const rejectsWith = async (p: Promise<unknown>, code: string): Promise<void> => {
    await expect(p).rejects.toBeInstanceOf(OAuthError);
    await expect(p).rejects.toMatchObject({ code });
  };

  it('no req_cnf and no token_type: not a PoP request (DPoP stays the default); audience alone is refused', () => {
    expect(binder.wanted({})).toBe(false);
    expect(() => binder.wanted({ audience: API })).toThrow(OAuthError);
    expect(() => binder.wanted({ token_type: 'Bearer' })).toThrow(OAuthError);
    expect(binder.wanted({ token_type: 'PoP' })).toBe(true);
  });

  it('PoP requests are refused when no resource server is registered', () => {
    expect(() => testPopBinder(testClock()).wanted({ token_type: 'pop' })).toThrow(/no PoP tokens/);
  });

  it('req_cnf jwk proven by the DPoP proof: cnf.jwk in the token, the key echoed with its thumbprint as kid, rs_cnf', async () => {
    const b = await binder.bind({ client, form: { req_cnf: JSON.stringify({ jwk: clientKey.publicJwk }) }, dpop: proofBy(clientKey.jkt) }, API);
    expect(b.kind).toBe('asymmetric');
    expect(b.tokenCnf).toEqual({ jwk: expect.objectContaining({ kty: 'EC', x: clientKey.publicJwk.x }) });
    expect(b.responseCnf).toEqual({ jwk: expect.objectContaining({ kid: clientKey.jkt }) });
    expect(b.rsCnf).toEqual({ jwk: rs.publicJwk });
    expect(b.proved?.kid).toBe(clientKey.jkt);
  });

  it('ACE-2: without a proof, or with a proof by another key, req_cnf is refused', async () => {
    const form = { req_cnf: JSON.stringify({ jwk: clientKey.publicJwk }) };
    await rejectsWith(binder.bind({ client, form, dpop: undefined }, API), 'invalid_request');
    await rejectsWith(binder.bind({ client, form, dpop: proofBy('other') }, API), 'invalid_request');
  });

  it('req_cnf kid resolves only this client’s remembered keys', async () => {
    const form = { req_cnf: JSON.stringify({ kid: clientKey.jkt }) };
    await rejectsWith(binder.bind({ client, form, dpop: proofBy(clientKey.jkt) }, API), 'invalid_request');
    const first = await binder.bind({ client, form: { req_cnf: JSON.stringify({ jwk: clientKey.publicJwk }) }, dpop: proofBy(clientKey.jkt) }, API);
    await binder.remember(client.id, first, new Date(Date.now() + 60_000));
    await expect(binder.bind({ client, form, dpop: proofBy(clientKey.jkt) }, API)).resolves.toMatchObject({ kind: 'asymmetric' });
    await rejectsWith(binder.bind({ client: testClient({ id: 'another' }), form, dpop: proofBy(clientKey.jkt) }, API), 'invalid_request');
  });

  it('symmetric: a fresh key in cnf, only its JWE in the token', async () => {
    const b = await binder.bind({ client, form: { token_type: 'pop' }, dpop: undefined }, API);
    expect(b.kind).toBe('symmetric');
    const k = (b.responseCnf.jwk as { k: string }).k;
    expect(typeof b.tokenCnf.jwe).toBe('string');
    expect(b.tokenCnf.jwe).not.toContain(k);
    expect(b.stored).toEqual({ jwe: b.tokenCnf.jwe, kid: (b.responseCnf.jwk as { kid: string }).kid });
  });

  it('ACE-4: a key type the resource server does not take → unsupported_pop_key; an unregistered audience → invalid_target', async () => {
    const ed = await generateClientKeyPair('EdDSA');
    await rejectsWith(binder.bind({ client, form: { req_cnf: JSON.stringify({ jwk: ed.publicJwk }) }, dpop: proofBy(ed.jkt) }, API), 'unsupported_pop_key');
    await rejectsWith(binder.bind({ client, form: { token_type: 'pop' }, dpop: undefined }, 'https://elsewhere.example'), 'invalid_target');
  });

  it('ACE-5: rebind keeps the stored key and audience, and refuses any change', async () => {
    const stored = { jwk: clientKey.publicJwk, kid: clientKey.jkt };
    await expect(binder.rebind(stored, API, {})).resolves.toMatchObject({ tokenCnf: { jwk: clientKey.publicJwk } });
    await expect(binder.rebind(stored, API, { req_cnf: JSON.stringify({ kid: clientKey.jkt }), audience: API })).resolves.toMatchObject({ kind: 'asymmetric' });
    const other = await generateClientKeyPair();
    await rejectsWith(binder.rebind(stored, API, { req_cnf: JSON.stringify({ jwk: other.publicJwk }) }), 'invalid_request');
    await rejectsWith(binder.rebind(stored, API, { audience: 'https://elsewhere.example' }), 'invalid_request');
    await expect(binder.rebind({ jwe: 'a.b.c.d.e', kid: 'k' }, API, {})).resolves.toEqual(expect.objectContaining({ tokenCnf: { jwe: 'a.b.c.d.e' }, responseCnf: { kid: 'k' } }));
    expect(() => binder.refuseUpgrade({ token_type: 'pop' })).toThrow(OAuthError);
  });

  it('the registry file: refuses private keys, unknown key types and oct without an encryption-capable key', () => {
    expect(() => parseResourceServers({ resource_servers: [{ identifier: API, jwk: { ...rs.publicJwk, d: 'x' }, pop_key_types: ['EC'] }] })).toThrow(/public key/);
    expect(() => parseResourceServers({ resource_servers: [{ identifier: API, jwk: rs.publicJwk, pop_key_types: ['DSA'] }] })).toThrow(/pop_key_types/);
    expect(() => parseResourceServers({ resource_servers: [{ identifier: API, jwk: { kty: 'OKP', crv: 'Ed25519', x: 'x' }, pop_key_types: ['oct'] }] })).toThrow(/encrypt/);
    expect(() => parseResourceServers({ resource_servers: [{ identifier: 'not a uri', jwk: rs.publicJwk, pop_key_types: ['EC'] }] })).toThrow(/absolute URI/);
  });
});
