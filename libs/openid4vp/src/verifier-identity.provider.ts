import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { X509Certificate } from 'node:crypto';
import type { AppConfig } from '@fpa/config';
import { parseTrustAnchors } from '@fpa/verifier';
import { generateVerifierIdentity, loadVerifierIdentity, persistedVerifierIdentity, VerifierIdentityError, type VerifierIdentity } from './verifier-identity';

export const VERIFIER_IDENTITY = Symbol('VERIFIER_IDENTITY');
export type { VerifierIdentity } from './verifier-identity';

/**
 * The configured key and chain; otherwise (never in production) a generated self-signed one — kept in
 * `<DATA_DIR>/verifier` by the embedded default, one per process elsewhere (tests, development on PostgreSQL).
 */
export async function verifierIdentityFrom(config: AppConfig): Promise<VerifierIdentity> {
  const { verifierKeyFile, verifierCertFile } = config.digitalCredentials;
  if ((verifierKeyFile === undefined) !== (verifierCertFile === undefined)) throw new VerifierIdentityError('DIGITAL_CREDENTIALS_VERIFIER_KEY_FILE and _CERT_FILE go together');
  if (verifierKeyFile && verifierCertFile) return loadVerifierIdentity(config.http.issuer, verifierKeyFile, verifierCertFile);
  if (config.mode === 'production' && config.challenge.methods.includes('digital_credential')) {
    throw new VerifierIdentityError('digital_credential needs DIGITAL_CREDENTIALS_VERIFIER_KEY_FILE and _CERT_FILE in production');
  }
  if (config.mode === 'embedded') return persistedVerifierIdentity(config.http.issuer, join(config.dataDir, 'verifier'));
  return generateVerifierIdentity(config.http.issuer);
}

/** DIGITAL_CREDENTIALS_TRUST_ANCHORS: one PEM file (several certificates allowed) or a directory of `.pem` files. */
export function trustAnchorsFrom(path: string | undefined): X509Certificate[] {
  if (path === undefined) return [];
  try {
    const files = statSync(path).isDirectory() ? readdirSync(path).filter((f) => f.endsWith('.pem')).sort().map((f) => join(path, f)) : [path];
    const pems = files.flatMap((f) => readFileSync(f, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []);
    if (pems.length === 0) throw new Error('no certificate found');
    return parseTrustAnchors(pems);
  } catch (e) {
    throw new VerifierIdentityError(`DIGITAL_CREDENTIALS_TRUST_ANCHORS: ${(e as Error).message}`);
  }
}

/**
 * The embedded default's anchors (`<DATA_DIR>/trust-anchors`, DIGITAL_CREDENTIALS_TRUST_ANCHORS unset): the directory may
 * be absent or empty (nothing trusted), and is read again when a `.pem` file in it appears, changes or goes, so the
 * demo wallet can write its issuer's root while the server runs (`npm run demo -- --wallet`). A file that does not
 * parse is skipped rather than failing every verification. Production never uses this: configured anchors load once.
 */
export function watchedTrustAnchors(dir: string): () => readonly X509Certificate[] {
  let seen = '';
  let anchors: readonly X509Certificate[] = [];
  return () => {
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.pem')).sort() : [];
    const stamp = files
      .map((f) => {
        const st = statSync(join(dir, f));
        return `${f}:${st.mtimeMs}:${st.size}`;
      })
      .join('|');
    if (stamp === seen) return anchors;
    anchors = files.flatMap((f) => {
      try {
        return parseTrustAnchors(readFileSync(join(dir, f), 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []);
      } catch {
        return [];
      }
    });
    seen = stamp;
    return anchors;
  };
}
