import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTestPki, TestSdJwtIssuer, type TestPki } from '@fpa/verifier/testing';

/**
 * The demo credential issuer of the terminal wallet (issue 11 §5): a root CA and an issuer certificate kept in a
 * directory so the suite can be configured once to trust it (DIGITAL_CREDENTIALS_TRUST_ANCHORS=<dir>/trust-anchors)
 * while every wallet run issues a fresh SD-JWT VC to a fresh holder key. Demo material only: the issuer's private
 * key sits in <dir>/demo-issuer.json (mode 0600).
 */
export const DEMO_ISSUER_HOST = 'demo-issuer.example';

interface StoredIssuer {
  readonly rootPem: string;
  readonly x5c: string[];
  readonly issuerKeyJwk: Record<string, unknown>;
  readonly issuer: string;
}

export interface DemoIssuer {
  readonly issuer: TestSdJwtIssuer;
  /** The directory of trust-anchor PEMs to configure the suite with. */
  readonly trustAnchorsDir: string;
  /** True when this call created the CA (the suite must be (re)started trusting it). */
  readonly created: boolean;
}

/**
 * `trustAnchorsDir` (default `<dir>/trust-anchors`) receives `demo-issuer-root.pem`, also when the issuer already
 * existed, so pointing the demo at the embedded default's `<DATA_DIR>/trust-anchors` is enough for it to trust the issuer.
 */
export async function loadOrCreateDemoIssuer(dir: string, options: { readonly trustAnchorsDir?: string } = {}): Promise<DemoIssuer> {
  const statePath = join(dir, 'demo-issuer.json');
  const trustAnchorsDir = options.trustAnchorsDir ?? join(dir, 'trust-anchors');
  let stored: StoredIssuer | undefined;
  try {
    stored = JSON.parse(await readFile(statePath, 'utf8')) as StoredIssuer;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (stored) {
    const pki: TestPki = {
      root: new X509Certificate(stored.rootPem),
      rootPem: stored.rootPem,
      x5c: stored.x5c,
      issuerKey: createPrivateKey({ key: stored.issuerKeyJwk as never, format: 'jwk' }),
      issuer: stored.issuer,
    };
    await writeRoot(trustAnchorsDir, stored.rootPem);
    return { issuer: new TestSdJwtIssuer(pki), trustAnchorsDir, created: false };
  }
  const pki = await createTestPki({ issuerDnsName: DEMO_ISSUER_HOST, rootName: 'first-party-auth demo credential root' });
  await mkdir(dir, { recursive: true });
  const toStore: StoredIssuer = { rootPem: pki.rootPem, x5c: pki.x5c, issuerKeyJwk: (pki.issuerKey as KeyObject).export({ format: 'jwk' }) as Record<string, unknown>, issuer: pki.issuer };
  await writeFile(statePath, JSON.stringify(toStore), { mode: 0o600 });
  await chmod(statePath, 0o600);
  await writeRoot(trustAnchorsDir, pki.rootPem);
  return { issuer: new TestSdJwtIssuer(pki), trustAnchorsDir, created: true };
}

/** Writes the root only when it differs, so a watching server does not re-read an unchanged directory. */
async function writeRoot(trustAnchorsDir: string, rootPem: string): Promise<void> {
  const path = join(trustAnchorsDir, 'demo-issuer-root.pem');
  const current = await readFile(path, 'utf8').catch(() => undefined);
  if (current === rootPem) return;
  await mkdir(trustAnchorsDir, { recursive: true });
  await writeFile(path, rootPem);
}
