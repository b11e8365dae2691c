import { generateKeyPairSync } from 'node:crypto';
import { importJWK, type JWK } from 'jose';
import { CryptoInputError } from './errors';
import { parseDevicePublicKey } from './index';

/**
 * parseDevicePublicKey checks a device key with node:crypto's JWK import instead of jose's
 * importJWK (issue 13): both must accept and refuse the same keys (CONTRACT §3).
 */
describe('parseDevicePublicKey accepts exactly the keys jose imports', () => {
  const jwkOf = (type: 'ec' | 'ed25519' | 'rsa'): Record<string, string> => {
    const k = (type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519')).publicKey;
    return k.export({ format: 'jwk' }) as Record<string, string>;
  };
  const b64 = (b: Buffer): string => b.toString('base64url');
  const ec = jwkOf('ec');
  const ed = jwkOf('ed25519');
  const rsa = jwkOf('rsa');
  const x = Buffer.from(ec.x, 'base64url');
  const y = Buffer.from(ec.y, 'base64url');
  // p - y: the point's negation, on the curve too.
  const p = 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n;
  const negY = Buffer.from((p - BigInt(`0x${y.toString('hex')}`)).toString(16).padStart(64, '0'), 'hex');
  const flipped = Buffer.from(y);
  flipped[31] ^= 1;

  const cases: [string, Record<string, string>, 'ES256' | 'EdDSA' | 'RS256'][] = [
    ['a valid EC P-256 key', ec, 'ES256'],
    ['the negated EC point', { ...ec, y: b64(negY) }, 'ES256'],
    ['an EC point off the curve (one bit of y flipped)', { ...ec, y: b64(flipped) }, 'ES256'],
    ['an EC point off the curve (y = x)', { ...ec, y: ec.x }, 'ES256'],
    ['EC coordinates of zeros', { ...ec, x: b64(Buffer.alloc(32)), y: b64(Buffer.alloc(32)) }, 'ES256'],
    ['a short EC x coordinate', { ...ec, x: b64(x.subarray(1)) }, 'ES256'],
    ['a long EC x coordinate', { ...ec, x: b64(Buffer.concat([Buffer.alloc(1), x])) }, 'ES256'],
    ['EC x = p (out of the field)', { ...ec, x: b64(Buffer.from(p.toString(16), 'hex')) }, 'ES256'],
    ['a valid Ed25519 key', ed, 'EdDSA'],
    ['a 31-byte Ed25519 key', { ...ed, x: b64(Buffer.from(ed.x, 'base64url').subarray(1)) }, 'EdDSA'],
    ['a 33-byte Ed25519 key', { ...ed, x: b64(Buffer.concat([Buffer.from(ed.x, 'base64url'), Buffer.alloc(1)])) }, 'EdDSA'],
    ['a valid RSA key', rsa, 'RS256'],
    ['an RSA key with e = 0', { ...rsa, e: 'AA' }, 'RS256'],
  ];

  it.each(cases)('%s', async (_name, jwk, alg) => {
    const joseAccepts = await importJWK(jwk as JWK, alg).then(
      () => true,
      () => false,
    );
    const ours = await parseDevicePublicKey(JSON.stringify(jwk), alg).catch((e: unknown) => e);
    if (joseAccepts) {
      expect(ours).not.toBeInstanceOf(Error);
    } else {
      expect(ours).toBeInstanceOf(CryptoInputError);
      expect((ours as CryptoInputError).reason).toBe('malformed_key');
    }
  });

  it('the cases cover both outcomes', async () => {
    const outcomes = await Promise.all(cases.map(([, jwk, alg]) => importJWK(jwk as JWK, alg).then(() => 'ok', () => 'refused')));
    expect(new Set(outcomes)).toEqual(new Set(['ok', 'refused']));
  });
});
