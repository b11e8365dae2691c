import { TestSdJwtIssuer, TestStatusList } from '@fpa/verifier/testing';
import { IssuerMetadataResolver } from '../issuer-metadata/issuer-metadata.resolver';
import { RemoteFetchError, type RemoteFetcher } from '../remote/remote-fetcher';
import { PresentationRefusal, type PresentationRefusalReason } from '../sd-jwt/presentation-refusal';
import { StatusListChecker, type StatusListCheckerOptions } from './status-list.checker';

const URI = 'https://status.example/lists/1';

let issuer: TestSdJwtIssuer;
let stranger: TestSdJwtIssuer;

beforeAll(async () => {
  issuer = await TestSdJwtIssuer.create();
  stranger = await TestSdJwtIssuer.create();
});

/** A fetcher serving one token per URL (a function, so a test can change it) and counting calls. */
function fakeFetcher(serve: Record<string, () => string>): RemoteFetcher & { calls: string[]; accepts: string[][] } {
  const calls: string[] = [];
  const accepts: string[][] = [];
  return {
    calls,
    accepts,
    get: (url, accept) => {
      calls.push(url);
      accepts.push([...accept]);
      const body = serve[url];
      return body ? Promise.resolve({ body: body(), contentType: accept[0] }) : Promise.reject(new RemoteFetchError('http_status', 'the server answered 404'));
    },
  };
}

const trust = () => ({ trustAnchors: [issuer.pki.root] });
const statusOf = (idx: number, uri = URI) => ({ status_list: { idx, uri } });

async function refusalOf(p: Promise<unknown>): Promise<PresentationRefusalReason> {
  try {
    await p;
  } catch (e) {
    if (e instanceof PresentationRefusal) return e.reason;
    throw e;
  }
  throw new Error('accepted');
}

function setup(token: (list: TestStatusList) => string = (l) => l.token(), options: Partial<StatusListCheckerOptions> = {}) {
  const list = new TestStatusList(issuer, { uri: URI, size: 64 });
  const fetcher = fakeFetcher({ [URI]: () => token(list) });
  const checker = new StatusListChecker({ fetcher, ...options });
  return { list, fetcher, checker };
}

describe('StatusListChecker (draft-ietf-oauth-status-list §8.3, VP-5 revocation)', () => {
  it('accepts a VALID entry and asks for application/statuslist+jwt', async () => {
    const { checker, fetcher } = setup();
    await expect(checker.check(statusOf(3), trust(), new Date())).resolves.toBeUndefined();
    expect(fetcher.accepts[0]).toEqual(['application/statuslist+jwt']);
  });

  it('refuses a revoked (INVALID) entry and a suspended one, and any other non-VALID value', async () => {
    const { checker, list } = setup();
    list.revoke(1);
    list.suspend(2);
    list.setStatus(3, 3);
    expect(await refusalOf(checker.check(statusOf(1), trust(), new Date()))).toBe('credential_revoked');
    expect(await refusalOf(checker.check(statusOf(2), trust(), new Date()))).toBe('credential_suspended');
    expect(await refusalOf(checker.check(statusOf(3), trust(), new Date()))).toBe('credential_status_invalid');
    await expect(checker.check(statusOf(0), trust(), new Date())).resolves.toBeUndefined();
  });

  it('fails closed when the list cannot be fetched', async () => {
    const checker = new StatusListChecker({ fetcher: fakeFetcher({}) });
    expect(await refusalOf(checker.check(statusOf(0), trust(), new Date()))).toBe('status_unavailable');
  });

  it('refuses a list signed by a key the trust anchors do not vouch for', async () => {
    const { checker } = setup((l) => l.token({ signedBy: stranger }));
    expect(await refusalOf(checker.check(statusOf(0), trust(), new Date()))).toBe('status_unavailable');
  });

  it('refuses a list whose sub is not the uri the credential names', async () => {
    const { checker } = setup((l) => l.token({ sub: 'https://status.example/lists/2' }));
    expect(await refusalOf(checker.check(statusOf(0), trust(), new Date()))).toBe('status_unavailable');
  });

  it('refuses a token whose typ is not statuslist+jwt', async () => {
    const { checker } = setup((l) => l.token({ typ: 'JWT' }));
    expect(await refusalOf(checker.check(statusOf(0), trust(), new Date()))).toBe('status_unavailable');
  });

  it('refuses an expired Status List Token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const { checker } = setup((l) => l.token({ iat: now - 7200, exp: now - 3600 }));
    expect(await refusalOf(checker.check(statusOf(0), trust(), new Date()))).toBe('status_unavailable');
  });

  it('refuses an index outside the list', async () => {
    const { checker } = setup();
    expect(await refusalOf(checker.check(statusOf(64), trust(), new Date()))).toBe('status_unavailable');
  });

  it('refuses a status reference that is not a Token Status List, and a malformed one', async () => {
    const { checker } = setup();
    expect(await refusalOf(checker.check({ other_mechanism: {} }, trust(), new Date()))).toBe('status_unsupported');
    expect(await refusalOf(checker.check({ status_list: { idx: -1, uri: URI } }, trust(), new Date()))).toBe('malformed');
    expect(await refusalOf(checker.check({ status_list: { idx: 1 } }, trust(), new Date()))).toBe('malformed');
  });

  describe('caching', () => {
    it('fetches once within ttl, and again once ttl has passed (a revocation is then seen)', async () => {
      let clock = Date.now();
      const { checker, fetcher, list } = setup((l) => l.token({ ttl: 60 }), { now: () => clock });
      await checker.check(statusOf(5), trust(), new Date(clock));
      list.revoke(5);
      await expect(checker.check(statusOf(5), trust(), new Date(clock))).resolves.toBeUndefined();
      expect(fetcher.calls).toHaveLength(1);
      clock += 61_000;
      expect(await refusalOf(checker.check(statusOf(5), trust(), new Date(clock)))).toBe('credential_revoked');
      expect(fetcher.calls).toHaveLength(2);
    });

    it('never uses a list past its exp, whatever the ttl', async () => {
      let clock = Date.now();
      // Each token served expires 30 s after it was issued.
      const { checker, fetcher } = setup((l) => l.token({ ttl: 86_400, iat: Math.floor(clock / 1000), exp: Math.floor(clock / 1000) + 30 }), { now: () => clock });
      await checker.check(statusOf(0), trust(), new Date(clock));
      clock += 20_000;
      await checker.check(statusOf(0), trust(), new Date(clock));
      expect(fetcher.calls).toHaveLength(1);
      clock += 20_000; // past exp, well within ttl
      await checker.check(statusOf(0), trust(), new Date(clock));
      expect(fetcher.calls).toHaveLength(2);
    });

    it('caps the cache time at maxCacheSeconds whatever the ttl', async () => {
      let clock = Date.now();
      const { checker, fetcher } = setup((l) => l.token({ ttl: 86_400 }), { now: () => clock, maxCacheSeconds: 120 });
      await checker.check(statusOf(0), trust(), new Date(clock));
      clock += 100_000;
      await checker.check(statusOf(0), trust(), new Date(clock));
      expect(fetcher.calls).toHaveLength(1);
      clock += 30_000;
      await checker.check(statusOf(0), trust(), new Date(clock));
      expect(fetcher.calls).toHaveLength(2);
    });

    it('shares one fetch between concurrent checks of the same list', async () => {
      const { checker, fetcher } = setup();
      await Promise.all(Array.from({ length: 20 }, (_, i) => checker.check(statusOf(i), trust(), new Date())));
      expect(fetcher.calls).toHaveLength(1);
    });

    it('does not reuse a list verified under trust anchors the caller does not have', async () => {
      const { checker } = setup();
      await checker.check(statusOf(0), trust(), new Date());
      expect(await refusalOf(checker.check(statusOf(0), { trustAnchors: [stranger.pki.root] }, new Date()))).toBe('status_unavailable');
    });

    it('does not cache a failure', async () => {
      let up = false;
      const list = new TestStatusList(issuer, { uri: URI });
      const fetcher: RemoteFetcher = { get: () => (up ? Promise.resolve({ body: list.token(), contentType: 'application/statuslist+jwt' }) : Promise.reject(new RemoteFetchError('timeout', 'slow'))) };
      const checker = new StatusListChecker({ fetcher });
      expect(await refusalOf(checker.check(statusOf(0), trust(), new Date()))).toBe('status_unavailable');
      up = true;
      await expect(checker.check(statusOf(0), trust(), new Date())).resolves.toBeUndefined();
    });
  });

  it('verifies a list signed with a metadata-trusted issuer key (kid, no x5c)', async () => {
    const iss = 'https://issuer.example/tenant';
    const list = new TestStatusList(issuer, { uri: URI, viaMetadata: { iss } });
    const fetcher = fakeFetcher({ [URI]: () => list.token(), 'https://issuer.example/.well-known/jwt-vc-issuer/tenant': () => JSON.stringify(issuer.metadataFor(iss)) });
    const metadataTrust = { trustAnchors: [], issuerMetadata: { resolver: new IssuerMetadataResolver({ fetcher }), trustedIssuers: [iss] } };
    const checker = new StatusListChecker({ fetcher });
    list.revoke(0);
    expect(await refusalOf(checker.check(statusOf(0), metadataTrust, new Date()))).toBe('credential_revoked');
    await expect(checker.check(statusOf(1), metadataTrust, new Date())).resolves.toBeUndefined();
    expect(await refusalOf(checker.check(statusOf(1), { ...metadataTrust, issuerMetadata: { ...metadataTrust.issuerMetadata, trustedIssuers: [] } }, new Date()))).toBe('status_unavailable');
  });
});
