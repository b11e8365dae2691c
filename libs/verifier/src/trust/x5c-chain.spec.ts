import { createTestPki, type TestPki } from '@fpa/verifier/testing';
import { validateX5cChain, X5cChainError, type X5cChainFailure } from './x5c-chain';

let pki: TestPki;
let other: TestPki;

beforeAll(async () => {
  [pki, other] = await Promise.all([createTestPki(), createTestPki({ rootName: 'Other Root' })]);
});

function failure(chain: unknown, anchors = [pki.root], now = new Date()): X5cChainFailure {
  try {
    validateX5cChain(chain, anchors, now);
  } catch (e) {
    if (e instanceof X5cChainError) return e.failure;
    throw e;
  }
  throw new Error('the chain was accepted');
}

const rootDer = () => pki.root.raw.toString('base64');

describe('validateX5cChain (VP-5 trust anchors)', () => {
  it('accepts a leaf issued by a trust anchor, with or without the anchor in x5c, and returns the leaf key', () => {
    const result = validateX5cChain(pki.x5c, [other.root, pki.root], new Date());
    expect(result.anchor.fingerprint256).toBe(pki.root.fingerprint256);
    expect(result.leaf.subjectAltName).toContain('DNS:issuer.example');
    expect(result.publicKey.asymmetricKeyType).toBe('ec');
    expect(validateX5cChain([...pki.x5c, rootDer()], [pki.root], new Date()).anchor.fingerprint256).toBe(pki.root.fingerprint256);
  });
  it('refuses a chain to another root', () => expect(failure(other.x5c)).toBe('no_trust_anchor'));
  it('refuses a chain whose links do not sign each other', () => expect(failure([...pki.x5c, other.root.raw.toString('base64')])).toBe('broken_chain'));
  it('refuses a leaf used as an issuer (not a CA)', () => expect(failure([pki.x5c[0], other.x5c[0]], [other.root])).toBe('not_a_ca'));
  it('refuses certificates outside their validity', () => expect(failure(pki.x5c, [pki.root], new Date(Date.now() + 400 * 86_400_000))).toBe('not_valid_now'));
  it('refuses no chain, junk and over-long chains', () => {
    expect(failure(undefined)).toBe('empty');
    expect(failure([])).toBe('empty');
    expect(failure(['not base64!'])).toBe('malformed');
    expect(failure([Buffer.from('junk').toString('base64')])).toBe('malformed');
    expect(failure(Array(6).fill(pki.x5c[0]))).toBe('too_long');
  });
});
