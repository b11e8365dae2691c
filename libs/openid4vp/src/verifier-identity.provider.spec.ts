import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestPki } from '@fpa/verifier/testing';
import { trustAnchorsFrom, watchedTrustAnchors } from './verifier-identity.provider';

describe('trust anchors (DIGITAL_CREDENTIALS_TRUST_ANCHORS)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-anchors-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('configured anchors load once and stop start-up when there are none', () => {
    expect(() => trustAnchorsFrom(join(dir, 'missing'))).toThrow(/DIGITAL_CREDENTIALS_TRUST_ANCHORS/);
    expect(trustAnchorsFrom(undefined)).toEqual([]);
  });

  it('the embedded default’s watched directory: absent or empty trusts nothing; a root written later is trusted from the next read (issue 11 §5)', async () => {
    const anchorsDir = join(dir, 'trust-anchors');
    const anchors = watchedTrustAnchors(anchorsDir);
    expect(anchors()).toEqual([]);
    mkdirSync(anchorsDir);
    expect(anchors()).toEqual([]);

    const a = await createTestPki({ rootName: 'root A' });
    writeFileSync(join(anchorsDir, 'a.pem'), a.rootPem);
    expect(anchors().map((c) => c.fingerprint256)).toEqual([a.root.fingerprint256]);
    expect(anchors()).toBe(anchors()); // unchanged files: not parsed again

    // Replaced in place (same name), a second file, and a file that is not a certificate (skipped, not fatal).
    const b = await createTestPki({ rootName: 'root B' });
    const c = await createTestPki({ rootName: 'root C' });
    writeFileSync(join(anchorsDir, 'a.pem'), b.rootPem);
    utimesSync(join(anchorsDir, 'a.pem'), new Date(), new Date(Date.now() + 5_000));
    writeFileSync(join(anchorsDir, 'c.pem'), c.rootPem);
    writeFileSync(join(anchorsDir, 'junk.pem'), '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n');
    writeFileSync(join(anchorsDir, 'notes.txt'), a.rootPem);
    expect(anchors().map((x) => x.fingerprint256)).toEqual([b.root.fingerprint256, c.root.fingerprint256]);

    rmSync(join(anchorsDir, 'c.pem'));
    expect(anchors().map((x) => x.fingerprint256)).toEqual([b.root.fingerprint256]);
  });
});
