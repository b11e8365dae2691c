import 'reflect-metadata'; // @peculiar/x509 uses tsyringe, which needs the polyfill loaded first.
import { createPrivateKey, randomBytes, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as x509 from '@peculiar/x509';

/**
 * Who the suite is as an OpenID4VP verifier (VP-1, docs/openid4vp-wire.md): client identifier
 * `x509_san_dns:<host of ISSUER>`, request objects signed (ES256) with the key whose certificate
 * chain goes in `x5c` — the leaf's DNS SAN is that host.
 */
export interface VerifierIdentity {
  readonly clientId: string;
  readonly host: string;
  readonly signingKey: KeyObject;
  /** Base64 DER, leaf first. */
  readonly x5c: readonly string[];
}

export class VerifierIdentityError extends Error {}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The configured key and chain (DIGITAL_CREDENTIALS_VERIFIER_KEY_FILE / _CERT_FILE), checked against ISSUER's host. */
export function loadVerifierIdentity(issuer: string, keyFile: string, certFile: string): VerifierIdentity {
  const host = new URL(issuer).hostname;
  let signingKey: KeyObject;
  let certs: X509Certificate[];
  try {
    signingKey = createPrivateKey(readFileSync(keyFile, 'utf8'));
    certs = (readFileSync(certFile, 'utf8').match(PEM_CERT) ?? []).map((pem) => new X509Certificate(pem));
  } catch (e) {
    throw new VerifierIdentityError(`DIGITAL_CREDENTIALS_VERIFIER_KEY_FILE / _CERT_FILE: ${(e as Error).message}`);
  }
  if (signingKey.asymmetricKeyType !== 'ec' || signingKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new VerifierIdentityError('DIGITAL_CREDENTIALS_VERIFIER_KEY_FILE must be a P-256 private key (ES256)');
  const [leaf] = certs;
  if (!leaf) throw new VerifierIdentityError('DIGITAL_CREDENTIALS_VERIFIER_CERT_FILE holds no certificate');
  if (!leaf.checkPrivateKey(signingKey)) throw new VerifierIdentityError('the verifier certificate does not match its key');
  const dnsNames = (leaf.subjectAltName ?? '').split(',').map((s) => s.trim()).filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4));
  if (!dnsNames.includes(host)) throw new VerifierIdentityError(`the verifier certificate has no DNS SAN ${host} (the host of ISSUER)`);
  return { clientId: `x509_san_dns:${host}`, host, signingKey, x5c: certs.map((c) => c.raw.toString('base64')) };
}

/** The embedded default: a fresh P-256 key and a self-signed leaf for ISSUER's host (one per process). */
export async function generateVerifierIdentity(issuer: string, nowMs = Date.now()): Promise<VerifierIdentity> {
  const host = new URL(issuer).hostname;
  x509.cryptoProvider.set(webcrypto as never);
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(8).toString('hex'),
    name: `CN=${host}`,
    notBefore: new Date(nowMs - 60_000),
    notAfter: new Date(nowMs + 365 * 86_400_000),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    keys: keys as never,
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true), new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: host }])],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { clientId: `x509_san_dns:${host}`, host, signingKey: createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }), x5c: [Buffer.from(cert.rawData).toString('base64')] };
}
