import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OAuthError } from '@fpa/oauth-core';
import { encryptEcdhEsJwe, verifyJwsWithX5c, type JWK } from '@fpa/crypto';
import { CredentialPolicyError, parseCredentialPolicy } from './credential-policy';
import { HttpPresentationVerifier } from './http-presentation-verifier';
import { decryptResponse, newPresentationRequest, ResponseDecryptionError, responseKid, signRequestObject } from './presentation-request';
import { generateVerifierIdentity, loadVerifierIdentity, persistedVerifierIdentity, VerifierIdentityError } from './verifier-identity';

const KEK = new Uint8Array(32).fill(3);
const NOW = 1_800_000_000_000;
const base = { authSession: 's', clientId: 'app', flow: 'cross_device' as const, responseMode: 'direct_post.jwt' as const, dcqlQuery: parseCredentialPolicy({}).queryFor('app', undefined) };

describe('credential policy (DIGITAL_CREDENTIALS_FILE)', () => {
  it('the embedded default asks for an SD-JWT VC with sub; queries per client and acr win in that order', () => {
    const p = parseCredentialPolicy({
      dcql: { default: base.dcqlQuery, acr: { 'urn:a': { credentials: [{ id: 'a', format: 'dc+sd-jwt', meta: { vct_values: ['urn:a'] } }] } } },
      clients: { x: { dcql: { acr: { 'urn:a': { credentials: [{ id: 'xa', format: 'dc+sd-jwt', meta: { vct_values: ['urn:xa'] } }] } } }, response_mode: 'direct_post' } },
    });
    expect((p.queryFor('app', undefined).credentials as { id: string }[])[0].id).toBe('credential');
    expect((p.queryFor('app', 'urn:a').credentials as { id: string }[])[0].id).toBe('a');
    expect((p.queryFor('x', 'urn:a').credentials as { id: string }[])[0].id).toBe('xa');
    expect(p.responseModeFor('x')).toBe('direct_post');
    expect(p.responseModeFor('app')).toBe('direct_post.jwt');
    expect(p.subjectClaims['dc+sd-jwt']).toEqual(['sub']);
  });

  it('refuses at start-up: unknown members, bad DCQL, unsupported formats, bad mappings and modes — all named at once', () => {
    const bad = () => parseCredentialPolicy({ extra: 1, dcql: { default: { credentials: [] } }, transaction_data: { p: { type: 'x', credential_ids: [] } }, response_mode: 'query', clients: { x: { dcql: { default: { credentials: [{ id: 'l', format: 'ldp_vc' }] } } } } });
    expect(bad).toThrow(CredentialPolicyError);
    expect(bad).toThrow(/unknown member extra.*dcql.default: not a valid DCQL query.*transaction_data: .*response_mode/s);
  });
});

describe('presentation requests and request objects (VP-1…3)', () => {
  it('a fresh request: random id and nonce (≥128 bits), its own encryption key, the private half sealed', async () => {
    const a = await newPresentationRequest(base, KEK, NOW, 300);
    const b = await newPresentationRequest(base, KEK, NOW, 300);
    expect(a.id).not.toBe(b.id);
    expect(a.nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.encryption.publicJwk).toMatchObject({ kty: 'EC', crv: 'P-256', kid: a.id, use: 'enc', alg: 'ECDH-ES' });
    expect(a.encryption.publicJwk).not.toHaveProperty('d');
    expect(a.encryption.sealedPrivateJwk.split('.')).toHaveLength(5);
    expect(a.expiresAt).toBe(NOW + 300_000);
  });

  it('signed with x5c and typ oauth-authz-req+jwt; echoes wallet_nonce; DC API requests carry expected_origins and no response_uri', async () => {
    const identity = await generateVerifierIdentity('https://as.example');
    const r = await newPresentationRequest(base, KEK, Date.now(), 300);
    const { header, payload } = await verifyJwsWithX5c(await signRequestObject(r, identity, 'https://as.example/openid4vp/response', Date.now(), 'wn-1'));
    expect(header).toMatchObject({ alg: 'ES256', typ: 'oauth-authz-req+jwt' });
    expect(payload).toMatchObject({ client_id: 'x509_san_dns:as.example', response_type: 'vp_token', response_mode: 'direct_post.jwt', response_uri: 'https://as.example/openid4vp/response', state: r.id, nonce: r.nonce, wallet_nonce: 'wn-1', aud: 'https://self-issued.me/v2' });
    const dc = await newPresentationRequest({ ...base, flow: 'dc_api', responseMode: 'dc_api.jwt', origins: ['https://app.example'] }, KEK, Date.now(), 300);
    const dcPayload = (await verifyJwsWithX5c(await signRequestObject(dc, identity, 'https://as.example/openid4vp/response', Date.now()))).payload;
    expect(dcPayload).toMatchObject({ expected_origins: ['https://app.example'], response_mode: 'dc_api.jwt' });
    expect(dcPayload.response_uri).toBeUndefined();
    expect(dcPayload.wallet_nonce).toBeUndefined();
  });

  it('decrypts a response to its own key only', async () => {
    const r = await newPresentationRequest(base, KEK, NOW, 300);
    const jwe = await encryptEcdhEsJwe(new TextEncoder().encode(JSON.stringify({ vp_token: { credential: ['x'] }, state: r.id })), r.encryption.publicJwk, 'A128GCM', r.id);
    expect(responseKid(jwe)).toBe(r.id);
    await expect(decryptResponse(r, jwe, KEK)).resolves.toEqual({ vp_token: { credential: ['x'] }, state: r.id });
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }) as JWK;
    await expect(decryptResponse(r, await encryptEcdhEsJwe(new TextEncoder().encode('{}'), other, 'A128GCM', r.id), KEK)).rejects.toThrow(ResponseDecryptionError);
    await expect(decryptResponse(r, 'a'.repeat(300_000), KEK)).rejects.toThrow(/too large/);
    expect(responseKid('not a jwe')).toBeUndefined();
  });
});

describe('verifier identity', () => {
  it('a configured key and certificate must match each other and name ISSUER’s host', async () => {
    const id = await generateVerifierIdentity('https://as.example');
    const dir = mkdtempSync(join(tmpdir(), 'fpa-vid-'));
    writeFileSync(join(dir, 'k.pem'), id.signingKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    writeFileSync(join(dir, 'c.pem'), `-----BEGIN CERTIFICATE-----\n${id.x5c[0]}\n-----END CERTIFICATE-----\n`);
    writeFileSync(join(dir, 'other.pem'), generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    expect(loadVerifierIdentity('https://as.example', join(dir, 'k.pem'), join(dir, 'c.pem')).clientId).toBe('x509_san_dns:as.example');
    expect(() => loadVerifierIdentity('https://other.example', join(dir, 'k.pem'), join(dir, 'c.pem'))).toThrow(/DNS SAN other.example/);
    expect(() => loadVerifierIdentity('https://as.example', join(dir, 'other.pem'), join(dir, 'c.pem'))).toThrow(VerifierIdentityError);
  });

  it('the embedded default keeps its generated identity in DATA_DIR: the same key and chain after a restart, a new one for another host', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'fpa-vid-')), 'verifier');
    const first = await persistedVerifierIdentity('https://as.example', dir);
    expect(statSync(join(dir, 'verifier-key.pem')).mode & 0o077).toBe(0);
    const again = await persistedVerifierIdentity('https://as.example', dir);
    expect(again.x5c).toEqual(first.x5c);
    expect(again.signingKey.export({ format: 'jwk' })).toEqual(first.signingKey.export({ format: 'jwk' }));
    expect(again.clientId).toBe('x509_san_dns:as.example');
    const moved = await persistedVerifierIdentity('https://login.example', dir);
    expect(moved.clientId).toBe('x509_san_dns:login.example');
    expect(moved.x5c).not.toEqual(first.x5c);
    expect((await persistedVerifierIdentity('https://login.example', dir)).x5c).toEqual(moved.x5c);
    // A damaged file is replaced, not fatal.
    writeFileSync(join(dir, 'verifier-cert.pem'), 'junk');
    expect((await persistedVerifierIdentity('https://login.example', dir)).x5c).not.toEqual(moved.x5c);
  });
});

describe('HttpPresentationVerifier (the verifier port over HTTP)', () => {
  const expectations = { dcqlQuery: base.dcqlQuery, nonce: 'n', binding: { kind: 'redirect' as const, clientId: 'x509_san_dns:as.example', responseUri: 'https://as.example/openid4vp/response' }, now: new Date(NOW) };
  const answering = (status: number, body: unknown, seen?: unknown[]): typeof fetch =>
    (async (_url: unknown, init?: RequestInit) => {
      seen?.push(JSON.parse(String(init?.body)));
      return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status });
    }) as typeof fetch;

  it('posts the presentation and its expectations; reads a verdict', async () => {
    const seen: unknown[] = [];
    const v = new HttpPresentationVerifier('https://verifier.example/verify', 1000, answering(200, { ok: true, credentials: [{ credential_id: 'credential', format: 'dc+sd-jwt', issuer: 'https://i.example', claims: { sub: 'x' } }] }, seen));
    await expect(v.verify({ credential: ['p'] }, expectations)).resolves.toEqual({ ok: true, credentials: [{ credentialId: 'credential', format: 'dc+sd-jwt', issuer: 'https://i.example', claims: { sub: 'x' } }] });
    expect(seen[0]).toMatchObject({ vp_token: { credential: ['p'] }, expectations: { nonce: 'n', binding: { kind: 'redirect', client_id: 'x509_san_dns:as.example' }, now: NOW / 1000 } });
    const no = new HttpPresentationVerifier('https://v.example', 1000, answering(200, { ok: false, code: 'invalid_presentation', reason: 'nonce', description: 'wrong nonce' }));
    await expect(no.verify({}, expectations)).resolves.toEqual({ ok: false, code: 'invalid_presentation', reason: 'nonce', description: 'wrong nonce' });
  });

  it('never accepts on a verifier’s silence: errors and malformed answers are temporarily_unavailable', async () => {
    for (const f of [answering(500, {}), answering(200, 'not json'), answering(200, { ok: true, credentials: [] }), answering(200, { ok: true, credentials: [{ format: 'jwt_vc' }] })]) {
      await expect(new HttpPresentationVerifier('https://v.example', 1000, f).verify({}, expectations)).rejects.toThrow(OAuthError);
    }
  });
});
