import { generateClientKeyPair } from '@fpa/crypto';
import { FixedClock } from '@fpa/oauth-core';
import { TestFederation, type TestEntity } from '../testing/test-federation';
import { TrustChainError, type TrustChainFailure } from './trust-chain-error';
import { TrustChainResolver, type ResolverSettings } from './trust-chain-resolver';

const TA = 'https://ta.example.org';
const INT = 'https://int.example.org';
const LEAF = 'https://app.example.com';
const CALLBACK = 'https://app.example.com/cb';
const SETTINGS: ResolverSettings = { maxChainLength: 5, maxAuthorityHints: 4, maxFetches: 24, fetchTimeoutMs: 1000, resolveTimeoutMs: 5000, maxResponseBytes: 65536, chainCacheSeconds: 3600, clockSkewSeconds: 5 };

describe('TrustChainResolver (OpenID Federation 1.0 §10, FED-4)', () => {
  let clock: FixedClock;
  let fed: TestFederation;
  let ta: TestEntity;
  let int: TestEntity;
  let leaf: TestEntity;
  const resolver = (settings: Partial<ResolverSettings> = {}, anchor: TestEntity = ta) => new TrustChainResolver(fed.source(), [{ entityId: anchor.entityId, jwks: anchor.jwks }], { ...SETTINGS, ...settings }, clock);
  const failure = async (promise: Promise<unknown>): Promise<TrustChainFailure> => {
    try {
      await promise;
    } catch (e) {
      return (e as { failure: TrustChainFailure }).failure;
    }
    throw new Error('resolution succeeded');
  };
  const statement = (superior: TestEntity, sub: TestEntity) => superior.subordinates.get(sub.entityId)!;
  const tamper = (superior: TestEntity, sub: TestEntity, t: NonNullable<ReturnType<typeof statement>['tamper']>) => superior.subordinates.set(sub.entityId, { ...statement(superior, sub), tamper: t });

  beforeEach(async () => {
    clock = new FixedClock(1_800_000_000_000);
    fed = new TestFederation(() => clock.nowSeconds());
    ta = (await fed.entity(TA)).asAuthority();
    int = (await fed.entity(INT)).asAuthority();
    leaf = await fed.entity(LEAF);
    leaf.metadata = { openid_relying_party: { client_name: 'App', redirect_uris: [CALLBACK, 'https://app.example.com/other'] } };
    ta.subordinate(int, { metadataPolicy: { openid_relying_party: { redirect_uris: { essential: true } } } });
    int.subordinate(leaf, { metadata: { openid_relying_party: { client_name: 'App (as the intermediate says)' } }, metadataPolicy: { openid_relying_party: { redirect_uris: { subset_of: [CALLBACK] } } } });
  });

  it('builds leaf → intermediate → trust anchor, verifies it, and applies the superiors’ metadata and policies', async () => {
    const chain = await resolver().resolve(LEAF);
    expect(chain.trustAnchor).toBe(TA);
    expect(chain.statements.map((s) => [s.iss, s.sub])).toEqual([
      [LEAF, LEAF],
      [INT, LEAF],
      [TA, INT],
    ]);
    expect(chain.metadata.openid_relying_party).toEqual({ client_name: 'App (as the intermediate says)', redirect_uris: [CALLBACK] });
    expect(chain.expiresAt).toBe(clock.nowSeconds() + 3600);
    expect(fed.requests).toEqual([`${LEAF}/.well-known/openid-federation`, `${INT}/.well-known/openid-federation`, `${INT}/fetch?sub=${encodeURIComponent(LEAF)}`, `${TA}/.well-known/openid-federation`, `${TA}/fetch?sub=${encodeURIComponent(INT)}`]);
  });

  it('caches a chain until its earliest exp, then resolves again', async () => {
    int.lifetime = 120; // the intermediate's statements expire first
    const r = resolver();
    const first = await r.resolve(LEAF);
    expect(first.expiresAt).toBe(clock.nowSeconds() + 120);
    const fetched = fed.requests.length;
    await r.resolve(LEAF);
    expect(fed.requests).toHaveLength(fetched);
    clock.advance(121);
    await r.resolve(LEAF);
    expect(fed.requests).toHaveLength(fetched * 2);
  });

  it('follows the next authority hint when the first leads nowhere', async () => {
    const dead = (await fed.entity('https://dead-end.example.org')).asAuthority();
    dead.subordinate(leaf);
    leaf.authorityHints = [dead.entityId, INT];
    expect((await resolver().resolve(LEAF)).trustAnchor).toBe(TA);
  });

  it('a trust anchor resolves to its own configuration, verified with the configured keys', async () => {
    const chain = await resolver().resolve(TA);
    expect(chain.statements).toHaveLength(1);
  });

  describe('refusals', () => {
    it('bad signature: a statement signed by a key its issuer does not have', async () => {
      tamper(int, leaf, { signWith: await generateClientKeyPair('ES256') });
      expect(await failure(resolver().resolve(LEAF))).toBe('bad_signature');
    });

    it('bad signature: a leaf that swapped its keys is not the entity its superior vouches for', async () => {
      const attacker = await generateClientKeyPair('ES256');
      leaf.configurationTamper = { signWith: attacker, payload: { jwks: { keys: [{ ...attacker.publicJwk, kid: attacker.jkt }] } } };
      expect(await failure(resolver().resolve(LEAF))).toBe('bad_signature');
    });

    it('bad signature: the anchor’s statement must verify with the configured anchor keys', async () => {
      const impostor = await generateClientKeyPair('ES256');
      tamper(ta, int, { signWith: impostor });
      ta.configurationTamper = { signWith: impostor, payload: { jwks: { keys: [{ ...impostor.publicJwk, kid: impostor.jkt }] } } };
      expect(await failure(resolver().resolve(LEAF))).toBe('bad_signature');
    });

    it('expired statement', async () => {
      tamper(int, leaf, { payload: { exp: clock.nowSeconds() - 60 } });
      expect(await failure(resolver().resolve(LEAF))).toBe('expired');
    });

    it('a statement issued in the future', async () => {
      tamper(ta, int, { payload: { iat: clock.nowSeconds() + 600 } });
      expect(await failure(resolver().resolve(LEAF))).toBe('not_yet_valid');
    });

    it('wrong typ', async () => {
      tamper(int, leaf, { typ: 'JWT' });
      expect(await failure(resolver().resolve(LEAF))).toBe('typ_mismatch');
    });

    it('unknown trust anchor: the chain ends at an entity that is not configured', async () => {
      const other = await fed.entity('https://other-ta.example.org');
      expect(await failure(resolver({}, other).resolve(LEAF))).toBe('no_trust_anchor');
    });

    it('sub mismatch: the superior’s statement is about another entity', async () => {
      tamper(int, leaf, { payload: { sub: 'https://someone-else.example.com' } });
      expect(await failure(resolver().resolve(LEAF))).toBe('subject_mismatch');
    });

    it('iss mismatch: a statement issued by someone else than the superior asked', async () => {
      tamper(ta, int, { payload: { iss: 'https://rogue.example.org' } });
      expect(await failure(resolver().resolve(LEAF))).toBe('issuer_mismatch');
    });

    it('loop in authority_hints', async () => {
      const int2 = (await fed.entity('https://int2.example.org')).asAuthority();
      int2.subordinate(int);
      int.subordinate(int2);
      int.authorityHints = [int2.entityId];
      expect(await failure(resolver().resolve(LEAF))).toBe('loop');
    });

    it('too deep: more superiors than OPENID_FEDERATION_MAX_CHAIN_LENGTH', async () => {
      expect(await failure(resolver({ maxChainLength: 1 }).resolve(LEAF))).toBe('too_deep');
      expect((await resolver({ maxChainLength: 2 }).resolve(LEAF)).trustAnchor).toBe(TA);
    });

    it('too many fetches', async () => {
      expect(await failure(resolver({ maxFetches: 3 }).resolve(LEAF))).toBe('too_many_fetches');
    });

    it('metadata_policy violation', async () => {
      ta.subordinates.set(INT, { ...statement(ta, int), metadataPolicy: { openid_relying_party: { redirect_uris: { superset_of: ['https://app.example.com/required'] } } } });
      expect(await failure(resolver().resolve(LEAF))).toBe('metadata_policy');
    });

    it('policies of two superiors that cannot be combined', async () => {
      ta.subordinates.set(INT, { ...statement(ta, int), metadataPolicy: { openid_relying_party: { application_type: { value: 'web' } } } });
      int.subordinates.set(LEAF, { ...statement(int, leaf), metadataPolicy: { openid_relying_party: { application_type: { value: 'native' } } } });
      expect(await failure(resolver().resolve(LEAF))).toBe('metadata_policy');
    });

    it('metadata_policy_crit naming an operator the suite does not support', async () => {
      ta.subordinates.set(INT, { ...statement(ta, int), metadataPolicy: { openid_relying_party: { client_name: { regexp: '^A' } } }, metadataPolicyCrit: ['regexp'] });
      expect(await failure(resolver().resolve(LEAF))).toBe('unsupported_critical');
      // Not critical: ignored.
      ta.subordinates.set(INT, { ...statement(ta, int), metadataPolicyCrit: undefined });
      expect((await resolver().resolve(LEAF)).trustAnchor).toBe(TA);
    });

    it('a crit claim', async () => {
      tamper(int, leaf, { payload: { crit: ['trust_marks_x'] } });
      expect(await failure(resolver().resolve(LEAF))).toBe('unsupported_critical');
    });

    it('an origin without an entity configuration is not a federation entity', async () => {
      expect(await failure(resolver().resolve('https://nobody.example.net'))).toBe('not_a_federation_entity');
    });

    it('a superior that has no statement about the entity', async () => {
      int.subordinates.delete(LEAF);
      expect(await failure(resolver().resolve(LEAF))).toBe('not_found');
    });

    it('a superior without a federation_fetch_endpoint', async () => {
      int.metadata = {};
      expect(await failure(resolver().resolve(LEAF))).toBe('no_fetch_endpoint');
    });

    it('an unreachable superior is transient, and wins over a definite failure on another path', async () => {
      fed.overrides.set(`${INT}/.well-known/openid-federation`, { status: 503, contentType: 'text/plain', body: 'down' });
      const dead = (await fed.entity('https://dead-end.example.org')).asAuthority();
      dead.subordinate(leaf);
      expect(await failure(resolver().resolve(LEAF))).toBe('unavailable');
    });

    it('the whole resolution is bounded in time, however long each fetch may take (OPENID_FEDERATION_RESOLVE_TIMEOUT_MS)', async () => {
      const inner = fed.source();
      const hanging = {
        get: (url: string, timeoutMs: number) =>
          url.startsWith(INT) ? new Promise<string>((_, reject) => setTimeout(() => reject(new TrustChainError('unavailable', `${url} did not answer`)), timeoutMs)) : inner.get(url, timeoutMs),
      };
      const started = Date.now();
      const r = new TrustChainResolver(hanging, [{ entityId: TA, jwks: ta.jwks }], { ...SETTINGS, fetchTimeoutMs: 5000, resolveTimeoutMs: 150 }, clock);
      expect(await failure(r.resolve(LEAF))).toBe('resolve_timeout');
      expect(Date.now() - started).toBeLessThan(1000);
    });

    it('an oversized statement', async () => {
      leaf.metadata = { openid_relying_party: { redirect_uris: [CALLBACK], padding: 'x'.repeat(5000) } };
      expect(await failure(resolver({ maxResponseBytes: 2048 }).resolve(LEAF))).toBe('too_large');
    });
  });
});

describe('TrustChainResolver anchors (OPENID_FEDERATION_TRUST_ANCHORS)', () => {
  it('refuses an anchor key set holding private key material, naming the anchor', async () => {
    const key = await generateClientKeyPair('ES256');
    const leaked = { keys: [{ ...key.publicJwk, d: 'secret' }] };
    const r = new TrustChainResolver(new TestFederation().source(), [{ entityId: TA, jwks: leaked }], SETTINGS, new FixedClock(0));
    await expect(r.validateAnchors()).rejects.toThrow(`OPENID_FEDERATION_TRUST_ANCHORS: ${TA}: jwks`);
  });
});
