import { generateKeyPairSync } from 'node:crypto';
import { TEST_ISSUER_KID, TEST_PID_VCT, TestHolder, TestSdJwtIssuer, startTestHttpServer, type TestHttpServer } from '@fpa/verifier/testing';
import { createHttpFetcher, RemoteFetchError, type RemoteFetcher } from '../remote/remote-fetcher';
import { PresentationRefusal, type PresentationRefusalReason } from '../sd-jwt/presentation-refusal';
import { verifySdJwtPresentation, type SdJwtPresentationExpectations } from '../sd-jwt/sd-jwt-presentation.verifier';
import { IssuerMetadataError, IssuerMetadataResolver, jwtVcIssuerMetadataUrl } from './issuer-metadata.resolver';

const AUD = 'x509_san_dns:auth.example.com';
const NONCE = 'n-metadata-1';

describe('jwtVcIssuerMetadataUrl (SD-JWT VC draft §5.1)', () => {
  it('puts the well-known segment between host and path', () => {
    expect(jwtVcIssuerMetadataUrl('https://example.com/tenant/1234')).toBe('https://example.com/.well-known/jwt-vc-issuer/tenant/1234');
    expect(jwtVcIssuerMetadataUrl('https://example.com')).toBe('https://example.com/.well-known/jwt-vc-issuer');
    expect(jwtVcIssuerMetadataUrl('https://example.com/')).toBe('https://example.com/.well-known/jwt-vc-issuer');
    expect(jwtVcIssuerMetadataUrl('https://example.com:8443/t/')).toBe('https://example.com:8443/.well-known/jwt-vc-issuer/t');
  });
  it('refuses an iss with a query or fragment, or not a URL', () => {
    expect(() => jwtVcIssuerMetadataUrl('https://example.com/?a=1')).toThrow(IssuerMetadataError);
    expect(() => jwtVcIssuerMetadataUrl('https://example.com/#x')).toThrow(IssuerMetadataError);
    expect(() => jwtVcIssuerMetadataUrl('urn:example:issuer')).toThrow(IssuerMetadataError);
  });
});

describe('IssuerMetadataResolver', () => {
  const ISS = 'https://issuer.example/t1';
  const METADATA = 'https://issuer.example/.well-known/jwt-vc-issuer/t1';
  let issuer: TestSdJwtIssuer;
  beforeAll(async () => {
    issuer = await TestSdJwtIssuer.create();
  });

  function fetcherServing(docs: Record<string, () => unknown>): RemoteFetcher & { calls: string[] } {
    const calls: string[] = [];
    return {
      calls,
      get: (url, accept) => {
        calls.push(url);
        const doc = docs[url];
        return doc ? Promise.resolve({ body: JSON.stringify(doc()), contentType: accept[0] }) : Promise.reject(new RemoteFetchError('http_status', '404'));
      },
    };
  }

  it('returns the key named by kid from inline jwks, and from jwks_uri', async () => {
    const inline = new IssuerMetadataResolver({ fetcher: fetcherServing({ [METADATA]: () => issuer.metadataFor(ISS) }) });
    await expect(inline.signingKey(ISS, TEST_ISSUER_KID, 'ES256')).resolves.toMatchObject({ kid: TEST_ISSUER_KID, kty: 'EC' });
    const byUri = fetcherServing({ [METADATA]: () => issuer.metadataFor(ISS, { jwksUri: 'https://keys.example/jwks' }), 'https://keys.example/jwks': () => ({ keys: [issuer.publicJwk()] }) });
    await expect(new IssuerMetadataResolver({ fetcher: byUri }).signingKey(ISS, TEST_ISSUER_KID, 'ES256')).resolves.toMatchObject({ kid: TEST_ISSUER_KID });
    expect(byUri.calls).toEqual([METADATA, 'https://keys.example/jwks']);
  });

  it.each([
    ['issuer is not iss', () => ({ issuer: 'https://issuer.example/t2', jwks: { keys: [] } }), 'invalid'],
    ['both jwks and jwks_uri', () => ({ issuer: ISS, jwks: { keys: [] }, jwks_uri: 'https://keys.example/jwks' }), 'invalid'],
    ['neither jwks nor jwks_uri', () => ({ issuer: ISS }), 'invalid'],
    ['a private key in jwks', () => ({ issuer: ISS, jwks: { keys: [{ ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), kid: TEST_ISSUER_KID }] } }), 'invalid'],
  ])('refuses metadata with %s', async (_name, doc, failure) => {
    const resolver = new IssuerMetadataResolver({ fetcher: fetcherServing({ [METADATA]: doc }) });
    await expect(resolver.signingKey(ISS, TEST_ISSUER_KID, 'ES256')).rejects.toMatchObject({ failure });
  });

  it('reports unreachable metadata as unavailable (the verifier fails closed)', async () => {
    await expect(new IssuerMetadataResolver({ fetcher: fetcherServing({}) }).signingKey(ISS, TEST_ISSUER_KID, 'ES256')).rejects.toMatchObject({ failure: 'unavailable' });
  });

  it('refuses a key whose alg does not fit the JWT alg', async () => {
    const resolver = new IssuerMetadataResolver({ fetcher: fetcherServing({ [METADATA]: () => issuer.metadataFor(ISS) }) });
    await expect(resolver.signingKey(ISS, TEST_ISSUER_KID, 'ES384')).rejects.toMatchObject({ failure: 'unknown_key' });
  });

  it('caches the set, and refetches for an unknown kid only after the cooldown (key rotation)', async () => {
    let clock = 1_000_000;
    let keys = [issuer.publicJwk()];
    const fetcher = fetcherServing({ [METADATA]: () => ({ issuer: ISS, jwks: { keys } }) });
    const resolver = new IssuerMetadataResolver({ fetcher, now: () => clock, cacheSeconds: 300, refreshCooldownSeconds: 30 });
    await resolver.signingKey(ISS, TEST_ISSUER_KID, 'ES256');
    await resolver.signingKey(ISS, TEST_ISSUER_KID, 'ES256');
    expect(fetcher.calls).toHaveLength(1);
    keys = [...keys, { ...issuer.publicJwk(), kid: 'rotated' }];
    await expect(resolver.signingKey(ISS, 'rotated', 'ES256')).rejects.toMatchObject({ failure: 'unknown_key' });
    expect(fetcher.calls).toHaveLength(1);
    clock += 31_000;
    await expect(resolver.signingKey(ISS, 'rotated', 'ES256')).resolves.toMatchObject({ kid: 'rotated' });
    expect(fetcher.calls).toHaveLength(2);
    clock += 300_000;
    await resolver.signingKey(ISS, TEST_ISSUER_KID, 'ES256');
    expect(fetcher.calls).toHaveLength(3);
  });
});

describe('verifySdJwtPresentation with issuer metadata trust (no x5c)', () => {
  let server: TestHttpServer;
  let issuer: TestSdJwtIssuer;
  let holder: TestHolder;
  let iss: string;
  let base: SdJwtPresentationExpectations;
  let resolver: IssuerMetadataResolver;

  beforeAll(async () => {
    server = await startTestHttpServer();
    issuer = await TestSdJwtIssuer.create();
    holder = TestHolder.create();
    iss = server.url('/issuers/pid');
    server.serveJson('/.well-known/jwt-vc-issuer/issuers/pid', () => issuer.metadataFor(iss));
    resolver = new IssuerMetadataResolver({ fetcher: createHttpFetcher({ allowHttpLoopback: true }) });
    base = { nonce: NONCE, audience: AUD, trustAnchors: [], allowedVcts: [TEST_PID_VCT], issuerMetadata: { resolver, trustedIssuers: [iss] } };
  });
  afterAll(() => server.close());

  const present = async (options: Parameters<TestSdJwtIssuer['issue']>[0] extends infer O ? Partial<O> : never = {}, by?: TestSdJwtIssuer) =>
    holder.present(await (by ?? issuer).issue({ holderJwk: holder.publicJwk, viaMetadata: { iss }, ...options }), { nonce: NONCE, aud: AUD });

  async function reason(presentation: Promise<string>, expectations: SdJwtPresentationExpectations = base): Promise<PresentationRefusalReason> {
    try {
      await verifySdJwtPresentation(await presentation, expectations);
    } catch (e) {
      if (e instanceof PresentationRefusal) return e.reason;
      throw e;
    }
    throw new Error('accepted');
  }

  it('accepts a credential signed with the key the metadata publishes under its kid', async () => {
    const result = await verifySdJwtPresentation(await present(), base);
    expect(result.issuer).toBe(iss);
    expect(result.issuerCertificate).toBeUndefined();
    expect(result.issuerKeySource).toMatchObject({ kind: 'metadata', issuer: iss, kid: TEST_ISSUER_KID });
  });

  it('refuses an iss that is not metadata-trusted, without fetching anything', async () => {
    const before = server.requests('/.well-known/jwt-vc-issuer/issuers/pid');
    expect(await reason(present(), { ...base, issuerMetadata: { resolver, trustedIssuers: ['https://other.example'] } })).toBe('untrusted_issuer');
    expect(await reason(present(), { ...base, issuerMetadata: undefined })).toBe('untrusted_issuer');
    expect(server.requests('/.well-known/jwt-vc-issuer/issuers/pid')).toBe(before);
  });

  it('refuses a credential signed by another key under the published kid', async () => {
    const forger = await TestSdJwtIssuer.create();
    expect(await reason(present({}, forger))).toBe('signature');
  });

  it('refuses a kid the metadata does not publish', async () => {
    expect(await reason(present({ header: { kid: 'unknown-kid' } }))).toBe('untrusted_issuer');
  });

  it('refuses a credential without kid', async () => {
    expect(await reason(present({ header: { kid: undefined } }))).toBe('untrusted_issuer');
  });

  it('fails closed when the metadata cannot be fetched', async () => {
    const missing = server.url('/issuers/missing');
    const expectations = { ...base, issuerMetadata: { resolver: new IssuerMetadataResolver({ fetcher: createHttpFetcher({ allowHttpLoopback: true }) }), trustedIssuers: [missing] } };
    expect(await reason(present({ viaMetadata: { iss: missing } }), expectations)).toBe('issuer_metadata_unavailable');
  });

  it('still uses x5c when the credential carries it, even for a metadata-trusted iss', async () => {
    // x5c wins: its chain must reach an anchor, and there is none here.
    expect(await reason(present({ header: { x5c: issuer.pki.x5c } }))).toBe('untrusted_issuer');
  });
});
