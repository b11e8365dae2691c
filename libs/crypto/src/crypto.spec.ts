import { generateKeyPairSync } from 'node:crypto';
import vectors from '../../../test/fixtures/rfc-vectors.json';
import {
  constantTimeEqual,
  createDpopProof,
  decodeJwtUnverified,
  decryptPrivateJwk,
  importPublicJwk,
  DpopNonces,
  DpopProofError,
  encryptPrivateJwk,
  generateClientKeyPair,
  generateSigningKey,
  normalizeHtu,
  parseDevicePublicKey,
  s256CodeChallenge,
  sha256B64u,
  signJwt,
  thumbprint,
  verifyDpopProof,
  verifyJwt,
  JwtVerificationError,
  type DpopVerifyOptions,
} from './index';
import { CryptoInputError } from './errors';

const b64u = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('RFC test vectors (spec §13)', () => {
  it('VEC-1 RFC 7638 §3.1 RSA thumbprint ignores alg and kid', async () => {
    expect(await thumbprint(vectors.rfc7638.jwk)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
    const { alg: _a, kid: _k, ...bare } = vectors.rfc7638.jwk;
    expect(await thumbprint(bare)).toBe(vectors.rfc7638.thumbprint_sha256);
  });

  it('VEC-2 RFC 9449 EC key thumbprint (cnf.jkt of Figures 8/9)', async () => {
    expect(await thumbprint(vectors.rfc9449.jwk)).toBe('0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I');
  });

  it('VEC-3 RFC 9449 ath of the example access token', () => {
    expect(sha256B64u(vectors.rfc9449.access_token)).toBe('fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo');
  });

  const proofOpts = (p: { htm: string; htu: string; iat: number }, extra: Partial<DpopVerifyOptions> = {}): DpopVerifyOptions => ({
    htm: p.htm,
    htu: p.htu,
    algorithms: ['ES256'],
    nowSeconds: p.iat + 2,
    maxAgeSeconds: 60,
    skewSeconds: 5,
    ...extra,
  });

  it('VEC-4 RFC 9449 Figure 1/2 token-request proof verifies with the VEC-2 key', async () => {
    const p = vectors.rfc9449.proofs[0];
    const verified = await verifyDpopProof(p.jwt, proofOpts(p));
    expect(verified.jkt).toBe(vectors.rfc9449.jkt);
    expect(verified.jti).toBe('-BwC3ESc6acc2lTc');
    expect(verified.iat).toBe(1562262616);
  });

  it('VEC-5 RFC 9449 refresh proof verifies and reuses the VEC-4 jti', async () => {
    const p = vectors.rfc9449.proofs[1];
    const verified = await verifyDpopProof(p.jwt, proofOpts(p));
    expect(verified.jti).toBe('-BwC3ESc6acc2lTc');
    expect(verified.jkt).toBe(vectors.rfc9449.jkt);
  });

  it('VEC-6 RFC 9449 resource proof verifies with ath of the example token (DPOP-15)', async () => {
    const p = vectors.rfc9449.proofs[2];
    const ok = await verifyDpopProof(p.jwt, proofOpts(p, { accessToken: vectors.rfc9449.access_token }));
    expect(ok.jkt).toBe(vectors.rfc9449.jkt);
    await expect(verifyDpopProof(p.jwt, proofOpts(p, { accessToken: 'another-token' }))).rejects.toMatchObject({ failure: 'ath' });
  });

  it('VEC-7 RFC 7636 Appendix B S256 challenge', () => {
    expect(s256CodeChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  });

  it('DPOP-14: the 2019 vectors are refused at the real current time', async () => {
    const p = vectors.rfc9449.proofs[0];
    await expect(verifyDpopProof(p.jwt, proofOpts(p, { nowSeconds: Math.floor(Date.now() / 1000) }))).rejects.toMatchObject({ failure: 'iat' });
  });
});

describe('verifyDpopProof refusals (DPOP-5…15)', () => {
  const htu = 'https://as.example.com/token';
  const now = 1_800_000_000;
  const opts: DpopVerifyOptions = { htm: 'POST', htu, algorithms: ['ES256', 'EdDSA'], nowSeconds: now, maxAgeSeconds: 60, skewSeconds: 5 };
  let key: Awaited<ReturnType<typeof generateClientKeyPair>>;
  beforeAll(async () => {
    key = await generateClientKeyPair('ES256');
  });
  const expectFailure = async (proof: Promise<string> | string, failure: string, o = opts): Promise<void> => {
    await expect(verifyDpopProof(await proof, o)).rejects.toMatchObject({ failure });
  };

  it('accepts a fresh proof and returns the key thumbprint', async () => {
    const proof = await createDpopProof(key, { htm: 'POST', htu, iat: now, nonce: 'n-1' });
    const v = await verifyDpopProof(proof, opts);
    expect(v.jkt).toBe(key.jkt);
    expect(v.nonce).toBe('n-1');
  });

  it('DPOP-5 refuses something that is not a compact JWS', async () => {
    await expectFailure('not-a-jws', 'malformed');
    await expectFailure('a.b.c.d.e', 'malformed');
  });

  it('DPOP-7 refuses another typ', async () => {
    const jwt = await signJwt({ jti: 'x', htm: 'POST', htu, iat: now }, { alg: 'ES256', typ: 'JWT', jwk: key.publicJwk }, key.privateKey);
    await expectFailure(jwt, 'typ');
  });

  it('DPOP-8 refuses alg none and HS256', async () => {
    const payload = b64u({ jti: 'x', htm: 'POST', htu, iat: now });
    await expectFailure(`${b64u({ typ: 'dpop+jwt', alg: 'none', jwk: key.publicJwk })}.${payload}.`, 'malformed');
    await expectFailure(`${b64u({ typ: 'dpop+jwt', alg: 'none', jwk: key.publicJwk })}.${payload}.AAAA`, 'alg');
    await expectFailure(`${b64u({ typ: 'dpop+jwt', alg: 'HS256', jwk: key.publicJwk })}.${payload}.AAAA`, 'alg');
  });

  it('DPOP-10 refuses a private key in the header', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const privateJwk = privateKey.export({ format: 'jwk' });
    const jwt = await signJwt({ jti: 'x', htm: 'POST', htu, iat: now }, { alg: 'ES256', typ: 'dpop+jwt', jwk: privateJwk }, privateKey);
    await expectFailure(jwt, 'private_jwk');
  });

  it('DPOP-9 refuses a proof signed by a key other than the embedded one', async () => {
    const other = await generateClientKeyPair('ES256');
    const jwt = await signJwt({ jti: 'x', htm: 'POST', htu, iat: now }, { alg: 'ES256', typ: 'dpop+jwt', jwk: other.publicJwk }, key.privateKey);
    await expectFailure(jwt, 'signature');
  });

  it('DPOP-6 refuses missing claims', async () => {
    const jwt = await signJwt({ htm: 'POST', htu, iat: now }, { alg: 'ES256', typ: 'dpop+jwt', jwk: key.publicJwk }, key.privateKey);
    await expectFailure(jwt, 'claims');
  });

  it('DPOP-11/12 refuses wrong htm or htu, ignores query and normalises case and default port', async () => {
    await expectFailure(createDpopProof(key, { htm: 'GET', htu, iat: now }), 'htm');
    await expectFailure(createDpopProof(key, { htm: 'POST', htu: 'https://as.example.com/other', iat: now }), 'htu');
    await expectFailure(createDpopProof(key, { htm: 'POST', htu: 'https://evil.example.com/token', iat: now }), 'htu');
    const ok = await createDpopProof(key, { htm: 'POST', htu: 'HTTPS://AS.example.com:443/token?x=1#f', iat: now });
    await expect(verifyDpopProof(ok, opts)).resolves.toMatchObject({ jkt: key.jkt });
  });

  it('DPOP-14 refuses stale and future iat', async () => {
    await expectFailure(createDpopProof(key, { htm: 'POST', htu, iat: now - 120 }), 'iat');
    await expectFailure(createDpopProof(key, { htm: 'POST', htu, iat: now + 60 }), 'iat');
  });

  it('normalizeHtu drops query/fragment and is undefined for non-http URLs', () => {
    expect(normalizeHtu('https://A.example.com:443/p%7e?q#f')).toBe('https://a.example.com/p~');
    expect(normalizeHtu('ftp://x/y')).toBeUndefined();
    expect(normalizeHtu('not a url')).toBeUndefined();
  });

  it('refuses jti, htm, htu or nonce that no store can hold as a key (NUL, lone surrogate, C1, not a string) — issue 8', async () => {
    for (const claims of <Record<string, unknown>[]>[{ jti: 'a\u0000' }, { jti: '\ud800' }, { nonce: 'n\u0085' }, { nonce: 7 }, { htu: `${htu}\u0000` }, { htm: 'POST\n' }, { jti: { a: 1 } }]) {
      const jwt = await signJwt({ jti: 'x', htm: 'POST', htu, iat: now, ...claims }, { alg: 'ES256', typ: 'dpop+jwt', jwk: key.publicJwk }, key.privateKey);
      await expectFailure(jwt, 'claims');
    }
  });

  it('errors are DpopProofError with a stable failure reason', async () => {
    const err = await verifyDpopProof('x', opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DpopProofError);
  });
});

describe('JWT claims used as lookup keys (issue 8)', () => {
  const now = 1_800_000_000;
  let key: Awaited<ReturnType<typeof generateClientKeyPair>>;
  beforeAll(async () => {
    key = await generateClientKeyPair('ES256');
  });
  const jwt = (claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> =>
    signJwt({ iss: 'app', sub: 'app', jti: 'j', iat: now, exp: now + 60, ...claims }, { alg: 'ES256', ...header }, key.privateKey);
  const HOSTILE: Record<string, unknown>[] = [
    { iss: '\u0000' },
    { sub: 'a\u0000' },
    { client_id: '\udfff' },
    { device_auth_session: 'x\u009b' },
    { auth_session: 'x\ty' },
    { jti: 1 },
    { iss: ['app'] },
    { sub: 'a'.repeat(1025) },
    { auth_session: 'a\ufffd' },
  ];

  it('decodeJwtUnverified refuses them as malformed, naming the claim', async () => {
    for (const claims of HOSTILE) {
      const token = await jwt(claims);
      let error: unknown;
      try {
        decodeJwtUnverified(token);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(JwtVerificationError);
      expect(error).toMatchObject({ failure: 'malformed', claim: Object.keys(claims)[0] });
    }
    expect(() => decodeJwtUnverified(`${b64u({ alg: 'ES256', kid: 'k\u0000' })}.${b64u({ iss: 'app' })}.AA`)).toThrow(/kid header parameter is malformed/);
    expect(decodeJwtUnverified(await jwt({ device_auth_session: 'abc', client_id: 'app' })).payload.iss).toBe('app');
  });

  it('verifyJwt refuses them even when the signature holds', async () => {
    const publicKey = await importPublicJwk(key.publicJwk, 'ES256');
    for (const claims of HOSTILE) {
      await expect(verifyJwt(await jwt(claims), publicKey, { algorithms: ['ES256'], currentDate: new Date(now * 1000), clockToleranceSeconds: 5 })).rejects.toMatchObject({ failure: 'malformed' });
    }
    await expect(verifyJwt(await jwt({}, { kid: '\ud800' }), publicKey, { algorithms: ['ES256'], currentDate: new Date(now * 1000), clockToleranceSeconds: 5 })).rejects.toMatchObject({ failure: 'malformed' });
    await expect(verifyJwt(await jwt({}), publicKey, { algorithms: ['ES256'], currentDate: new Date(now * 1000), clockToleranceSeconds: 5 })).resolves.toMatchObject({ payload: { iss: 'app' } });
  });
});

describe('parseDevicePublicKey (CONTRACT §3)', () => {
  it('accepts EC P-256, Ed25519 and RSA 2048 JWKs, and PEM SPKI', async () => {
    const ec = await generateClientKeyPair('ES256');
    const parsed = await parseDevicePublicKey(JSON.stringify({ ...ec.publicJwk, kid: 'ignored', alg: 'ES256' }));
    expect(parsed).toMatchObject({ alg: 'ES256', jkt: ec.jkt });
    expect(Object.keys(parsed.jwk).sort()).toEqual(['crv', 'kty', 'x', 'y']);

    const ed = await generateClientKeyPair('EdDSA');
    expect((await parseDevicePublicKey(JSON.stringify(ed.publicJwk))).alg).toBe('EdDSA');

    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const fromPem = await parseDevicePublicKey(pem, 'PS256');
    expect(fromPem).toMatchObject({ alg: 'PS256' });
    expect(fromPem.jkt).toBe(await thumbprint(rsa.publicKey.export({ format: 'jwk' })));
  });

  const refuse = async (input: string, reason: string, alg?: string): Promise<void> => {
    const err = await parseDevicePublicKey(input, alg).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CryptoInputError);
    expect((err as CryptoInputError).reason).toBe(reason);
  };

  it('refuses private JWKs, symmetric keys, weak RSA, other curves, malformed JSON and bad algs', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await refuse(JSON.stringify(privateKey.export({ format: 'jwk' })), 'private_key');
    await refuse(JSON.stringify({ kty: 'oct', k: 'AAAA' }), 'private_key');
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    await refuse(JSON.stringify(weak.publicKey.export({ format: 'jwk' })), 'weak_key');
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    await refuse(JSON.stringify(p384.publicKey.export({ format: 'jwk' })), 'unsupported_key_type');
    await refuse('{"kty":"EC","crv":"P-256",', 'malformed_json');
    await refuse('[1,2]', 'malformed_json');
    await refuse(JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' }), 'malformed_key');
    const ec = await generateClientKeyPair('ES256');
    await refuse(JSON.stringify(ec.publicJwk), 'alg_mismatch', 'RS256');
    const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await refuse(pkcs8, 'private_key');
  });
});

describe('DpopNonces', () => {
  const secret = new Uint8Array(32).fill(7);
  it('is stable within a window, valid for neighbours, invalid after two windows or under another realm', () => {
    const n = new DpopNonces(secret, 60, 'as');
    const t = 1_800_000_000;
    const nonce = n.current(t);
    expect(n.current(t + 1)).toBe(nonce);
    expect(n.isValid(nonce, t)).toBe(true);
    expect(n.isValid(nonce, t + 60)).toBe(true);
    expect(n.isValid(nonce, t + 130)).toBe(false);
    expect(new DpopNonces(secret, 60, 'rs').isValid(nonce, t)).toBe(false);
    expect(new DpopNonces(new Uint8Array(32).fill(8), 60, 'as').isValid(nonce, t)).toBe(false);
    const tampered = Buffer.from(nonce, 'base64url');
    tampered[27] ^= 1;
    expect(n.isValid(tampered.toString('base64url'), t)).toBe(false);
    expect(n.isValid('garbage', t)).toBe(false);
  });
});

describe('signing keys at rest', () => {
  it('round-trips a private JWK and refuses another kid or key', async () => {
    const key = await generateSigningKey('ES256');
    const kek = new Uint8Array(32).fill(1);
    const jwe = await encryptPrivateJwk(key.privateJwk, key.kid, kek);
    expect(jwe).not.toContain(String(key.privateJwk.d));
    expect(await decryptPrivateJwk(jwe, key.kid, kek)).toEqual(key.privateJwk);
    await expect(decryptPrivateJwk(jwe, 'other', kek)).rejects.toThrow();
    await expect(decryptPrivateJwk(jwe, key.kid, new Uint8Array(32).fill(2))).rejects.toThrow();
  });

  it('RS256 keys are at least 2048 bits and kid is the thumbprint', async () => {
    const key = await generateSigningKey('RS256');
    expect(Buffer.from(String(key.publicJwk.n), 'base64url').length).toBe(256);
    expect(key.kid).toBe(await thumbprint(key.publicJwk));
    expect(key.publicJwk.d).toBeUndefined();
  });
});

describe('constantTimeEqual', () => {
  it('compares by value', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
  });
});
