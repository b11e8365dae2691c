import { createHash } from 'node:crypto';
import { cborEncode } from '@owf/mdoc';
import { createMdocContext } from './mdoc-context';
import { buildMdocSessionTranscript, SessionTranscriptInputError } from './session-transcript';

// OpenID4VP 1.0 Appendix B.2.6: the expected bytes are built here from the structure the spec gives, with plain
// CBOR arrays, and compared with what the library's handover builders produce.
const sha256 = (bytes: Uint8Array) => new Uint8Array(createHash('sha256').update(bytes).digest());
const expected = (name: string, info: unknown[]) => Buffer.from(cborEncode([null, null, [name, sha256(cborEncode(info))]]));
const ctx = createMdocContext();
const thumbprint = sha256(new TextEncoder().encode('a verifier encryption key'));

describe('mdoc SessionTranscript (OpenID4VP 1.0 B.2.6, VP-5)', () => {
  it('OpenID4VPHandover = ["OpenID4VPHandover", sha256([client_id, nonce, null, response_uri])] without encryption', async () => {
    const transcript = await buildMdocSessionTranscript(
      { kind: 'openid4vp', clientId: 'x509_san_dns:verifier.example', nonce: 'n-0S6_WzA2Mj', responseUri: 'https://verifier.example/response' },
      ctx,
    );
    expect(Buffer.from(transcript.encode())).toEqual(
      expected('OpenID4VPHandover', ['x509_san_dns:verifier.example', 'n-0S6_WzA2Mj', null, 'https://verifier.example/response']),
    );
  });

  it('OpenID4VPHandover carries the JWK thumbprint for an encrypted (direct_post.jwt) response', async () => {
    const transcript = await buildMdocSessionTranscript(
      { kind: 'openid4vp', clientId: 'x509_san_dns:verifier.example', nonce: 'abc', responseUri: 'https://verifier.example/response', jwkThumbprint: thumbprint },
      ctx,
    );
    expect(Buffer.from(transcript.encode())).toEqual(
      expected('OpenID4VPHandover', ['x509_san_dns:verifier.example', 'abc', thumbprint, 'https://verifier.example/response']),
    );
  });

  it('OpenID4VPDCAPIHandover = ["OpenID4VPDCAPIHandover", sha256([origin, nonce, thumbprint / null])]', async () => {
    const plain = await buildMdocSessionTranscript({ kind: 'dc_api', origin: 'https://app.example', nonce: 'abc' }, ctx);
    expect(Buffer.from(plain.encode())).toEqual(expected('OpenID4VPDCAPIHandover', ['https://app.example', 'abc', null]));
    const encrypted = await buildMdocSessionTranscript({ kind: 'dc_api', origin: 'https://app.example', nonce: 'abc', jwkThumbprint: thumbprint }, ctx);
    expect(Buffer.from(encrypted.encode())).toEqual(expected('OpenID4VPDCAPIHandover', ['https://app.example', 'abc', thumbprint]));
  });

  it.each([
    ['an empty nonce', { kind: 'dc_api', origin: 'https://app.example', nonce: '' }],
    ['a nonce with spaces', { kind: 'dc_api', origin: 'https://app.example', nonce: 'a b' }],
    ['an origin with a path', { kind: 'dc_api', origin: 'https://app.example/login', nonce: 'abc' }],
    ['an empty client_id', { kind: 'openid4vp', clientId: '', nonce: 'abc', responseUri: 'https://v.example/r' }],
    ['a relative response_uri', { kind: 'openid4vp', clientId: 'redirect_uri:https://v.example/r', nonce: 'abc', responseUri: '/r' }],
    ['a thumbprint that is not 32 bytes', { kind: 'dc_api', origin: 'https://app.example', nonce: 'abc', jwkThumbprint: new Uint8Array(20) }],
  ] as const)('refuses to build a transcript from %s', async (_name, input) => {
    await expect(buildMdocSessionTranscript(input, ctx)).rejects.toBeInstanceOf(SessionTranscriptInputError);
  });
});
