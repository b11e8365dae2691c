import 'reflect-metadata'; // @peculiar/x509 (loaded below) uses tsyringe, which needs the polyfill loaded first.
import { createPrivateKey, randomBytes, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as X509 from '@peculiar/x509';

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
  // Loaded here, not at start-up: @peculiar/x509 and its ASN.1 stack cost ~0.3 s of CPU to load (issue 13 goal 4).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const x509 = require('@peculiar/x509') as typeof X509;
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

const KEY_FILE = 'verifier-key.pem';
const CERT_FILE = 'verifier-cert.pem';

/**
 * The embedded default's self-signed identity, kept in `dir` (`<DATA_DIR>/verifier`): generated on the first start
 * (or when ISSUER's host changed), read back with node:crypto on every later one. A wallet sees the same verifier
 * across restarts, and a warm start skips the X.509 generator (issue 13 goal 4). The key file is owner-only.
 */
export async function persistedVerifierIdentity(issuer: string, dir: string): Promise<VerifierIdentity> {
  const keyFile = join(dir, KEY_FILE);
  const certFile = join(dir, CERT_FILE);
  if (existsSync(keyFile) && existsSync(certFile)) {
    try {
      const kept = loadVerifierIdentity(issuer, keyFile, certFile);
      const leaf = new X509Certificate(Buffer.from(kept.x5c[0], 'base64'));
      // Renewed a day before it expires (it is valid for a year).
      if (new Date(leaf.validTo).getTime() > Date.now() + 86_400_000) return kept;
    } catch (e) {
      if (!(e instanceof VerifierIdentityError)) throw e;
      // Another host (ISSUER changed) or unreadable files: make a new one below.
    }
  }
  const identity = await generateVerifierIdentity(issuer);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pem = `-----BEGIN CERTIFICATE-----\n${identity.x5c[0].replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
  // Written aside and renamed, so a crash never leaves a key without its certificate or half a file.
  writeFileSync(`${keyFile}.tmp`, identity.signingKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
  chmodSync(`${keyFile}.tmp`, 0o600);
  writeFileSync(`${certFile}.tmp`, pem);
  renameSync(`${keyFile}.tmp`, keyFile);
  renameSync(`${certFile}.tmp`, certFile);
  return identity;
}
