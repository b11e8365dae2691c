import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, verify, X509Certificate, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { CoseKey, MdocContext } from '@owf/mdoc';
import { mdocLibrary } from '../format-libraries';
import { verifyIssuerChain } from './issuer-trust';

/**
 * The crypto adaptor @owf/mdoc needs (it ships none): COSE ES256/384/512 and EdDSA with node:crypto, SHA digests,
 * X.509 through Node's X509Certificate and our chain validation (issuer-trust.ts). No hand-rolled primitives.
 * OpenID4VP has no reader key, so the ISO proximity MAC (deviceMac, ECDH + HKDF) is refused, not implemented.
 */
const HASH: Record<string, string | null> = { ES256: 'sha256', ES384: 'sha384', ES512: 'sha512', EdDSA: null };
const DIGEST: Record<string, string> = { 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };

function publicKeyOf(key: CoseKey): KeyObject {
  const { d: _d, ...jwk } = key.jwk as JsonWebKey;
  return createPublicKey({ key: jwk, format: 'jwk' });
}

function hashFor(alg: string): string | null {
  if (!(alg in HASH)) throw new Error(`unsupported COSE algorithm ${alg}`);
  return HASH[alg];
}

function nameFields(name: string, field: string): string[] {
  return name
    .split('\n')
    .map((line) => line.split('='))
    .filter(([key]) => key === field)
    .map(([, ...value]) => value.join('='));
}

export class DeviceMacNotSupportedError extends Error {}

export function createMdocContext(): MdocContext {
  return {
    crypto: {
      random: (length) => new Uint8Array(randomBytes(length)),
      digest: ({ digestAlgorithm, bytes }) => {
        const alg = DIGEST[digestAlgorithm];
        if (!alg) throw new Error(`unsupported digest algorithm ${digestAlgorithm}`);
        return new Uint8Array(createHash(alg).update(bytes).digest());
      },
      calculateEphemeralMacKey: () => {
        throw new DeviceMacNotSupportedError('deviceMac needs a reader key, which OpenID4VP does not have');
      },
    },
    cose: {
      sign1: {
        sign: ({ toBeSigned, key, algorithm }) => {
          const alg = algorithm !== undefined ? signatureAlgorithmName(algorithm) : 'ES256';
          const privateKey = createPrivateKey({ key: key.jwk as JsonWebKey, format: 'jwk' });
          return new Uint8Array(sign(hashFor(alg), toBeSigned, { key: privateKey, dsaEncoding: 'ieee-p1363' }));
        },
        verify: ({ key, sign1 }) => {
          const alg = hashFor(sign1.signatureAlgorithmName);
          return verify(alg, sign1.toBeSigned, { key: publicKeyOf(key), dsaEncoding: 'ieee-p1363' }, sign1.signature);
        },
      },
      mac0: {
        sign: () => {
          throw new DeviceMacNotSupportedError('deviceMac is not supported over OpenID4VP');
        },
        verify: () => {
          throw new DeviceMacNotSupportedError('deviceMac is not supported over OpenID4VP');
        },
      },
    },
    x509: {
      getIssuerNameField: ({ certificate, field }) => nameFields(new X509Certificate(Buffer.from(certificate)).issuer, field),
      getPublicKey: ({ certificate }) => {
        const jwk = new X509Certificate(Buffer.from(certificate)).publicKey.export({ format: 'jwk' });
        return mdocLibrary().CoseKey.fromJwk(jwk as Record<string, unknown>);
      },
      verifyCertificateChain: ({ trustedCertificates, x5chain, now }) => {
        verifyIssuerChain({ x5chain, trustAnchors: trustedCertificates, now: now ?? new Date() });
      },
      getCertificateData: ({ certificate }) => {
        const cert = new X509Certificate(Buffer.from(certificate));
        return {
          issuerName: cert.issuer.replace(/\n/g, ', '),
          subjectName: cert.subject.replace(/\n/g, ', '),
          serialNumber: cert.serialNumber,
          thumbprint: cert.fingerprint256.replace(/:/g, '').toLowerCase(),
          notBefore: new Date(cert.validFrom),
          notAfter: new Date(cert.validTo),
          pem: cert.toString(),
        };
      },
    },
  };
}

/** COSE algorithm identifiers (RFC 9053) for the ones above. */
function signatureAlgorithmName(algorithm: number): string {
  const names: Record<number, string> = { [-7]: 'ES256', [-35]: 'ES384', [-36]: 'ES512', [-8]: 'EdDSA' };
  const name = names[algorithm];
  if (!name) throw new Error(`unsupported COSE algorithm ${algorithm}`);
  return name;
}
