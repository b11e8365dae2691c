import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifySdJwtPresentation } from '@fpa/verifier';
import { TestHolder, TEST_PID_VCT } from '@fpa/verifier/testing';
import { loadOrCreateDemoIssuer } from './wallet-demo-issuer';

// Issue 11 §5 (demo): the terminal wallet's issuer survives restarts, so the suite is configured once with its root.
describe('loadOrCreateDemoIssuer', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'demo-wallet-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('creates the CA once, keeps its key private, and a reloaded issuer issues credentials that chain to the written root', async () => {
    const first = await loadOrCreateDemoIssuer(dir);
    const again = await loadOrCreateDemoIssuer(dir);
    expect([first.created, again.created]).toEqual([true, false]);
    expect(again.issuer.pki.rootPem).toBe(first.issuer.pki.rootPem);
    expect((await stat(join(dir, 'demo-issuer.json'))).mode & 0o777).toBe(0o600);

    const written = new X509Certificate(await readFile(join(again.trustAnchorsDir, 'demo-issuer-root.pem')));
    const holder = TestHolder.create();
    const credential = await again.issuer.issue({ holderJwk: holder.publicJwk, claims: { sub: 'demo-holder-0001' } });
    const presentation = await holder.present(credential, { nonce: 'n-0123456789abcdef', aud: 'x509_san_dns:as.example' });
    const verified = await verifySdJwtPresentation(presentation, {
      nonce: 'n-0123456789abcdef',
      audience: 'x509_san_dns:as.example',
      trustAnchors: [written],
      allowedVcts: [TEST_PID_VCT],
    });
    expect(verified).toMatchObject({ issuer: 'https://demo-issuer.example', claims: { sub: 'demo-holder-0001' } });
  });
});
