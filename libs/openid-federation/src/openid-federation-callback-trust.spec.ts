import { loadConfig, type AppConfig } from '@fpa/config';
import { FixedClock, OAuthError } from '@fpa/oauth-core';
import type { Client } from '@fpa/clients';
import { MetricsRegistry } from '@fpa/platform';
import { TrustChainResolver } from './chain/trust-chain-resolver';
import { OpenIdFederationCallbackTrust } from './openid-federation-callback-trust';
import { TestFederation, type TestEntity } from './testing/test-federation';

const TA = 'https://ta.example.org';
const LEAF = 'https://app.example.com';
const CALLBACK = 'https://app.example.com/native/cb';
const client = { id: 'federated-rp' } as Client;

describe('OpenIdFederationCallbackTrust (FED-4, seed 003 trust establishment)', () => {
  let clock: FixedClock;
  let fed: TestFederation;
  let ta: TestEntity;
  let leaf: TestEntity;
  let config: AppConfig;
  let metrics: MetricsRegistry;
  const counted = async (): Promise<Record<string, number>> =>
    Object.fromEntries((await metrics.registry.getSingleMetric('fpa_native_callback_federation_checks_total')!.get()).values.map((v) => [String(v.labels.outcome), v.value]));

  const policy = (anchors = [{ entityId: ta.entityId, jwks: ta.jwks }]) => {
    const f = config.openidFederation;
    return new OpenIdFederationCallbackTrust(new TrustChainResolver(fed.source(), anchors, { ...f, clockSkewSeconds: 5 }, clock), config, metrics);
  };
  const refusal = async (p: Promise<unknown>): Promise<OAuthError> => {
    try {
      await p;
    } catch (e) {
      if (e instanceof OAuthError) return e;
      throw e;
    }
    throw new Error('no refusal');
  };

  beforeEach(async () => {
    config = loadConfig('standalone', {});
    metrics = new MetricsRegistry();
    clock = new FixedClock(1_800_000_000_000);
    fed = new TestFederation(() => clock.nowSeconds());
    ta = (await fed.entity(TA)).asAuthority();
    leaf = await fed.entity(LEAF);
    leaf.metadata = { openid_relying_party: { redirect_uris: [CALLBACK] } };
    ta.subordinate(leaf);
  });

  it('is named, so the policy chain can report which policy decided', () => {
    expect(policy().name).toBe('openid_federation');
  });

  it('trusts a URI the verified chain lists among the client’s redirect_uris (openid_relying_party or oauth_client)', async () => {
    await expect(policy().check(client, CALLBACK)).resolves.toBe('trusted');
    leaf.metadata = { oauth_client: { redirect_uris: [CALLBACK] } };
    await expect(policy().check(client, CALLBACK)).resolves.toBe('trusted');
    expect(fed.requests[0]).toBe(`${LEAF}/.well-known/openid-federation`);
  });

  it('answers unknown when no trust anchor is configured, without fetching anything', async () => {
    await expect(policy([]).check(client, CALLBACK)).resolves.toBe('unknown');
    expect(fed.requests).toEqual([]);
  });

  it('answers unknown for a URI that is no https URL, and for a domain that is not a federation entity', async () => {
    await expect(policy().check(client, 'com.example.app:/cb')).resolves.toBe('unknown');
    await expect(policy().check(client, 'http://app.example.com/cb')).resolves.toBe('unknown');
    await expect(policy().check(client, 'https://elsewhere.example.net/cb')).resolves.toBe('unknown');
  });

  it('refuses a URI the chain does not list (invalid_request)', async () => {
    const e = await refusal(policy().check(client, 'https://app.example.com/not-registered'));
    expect(e.code).toBe('invalid_request');
    expect(e.status).toBe(400);
    expect(e.description).toContain('not among the redirect_uris of https://app.example.com');
  });

  it('refuses a URI that a metadata policy took out (subset_of)', async () => {
    leaf.metadata = { openid_relying_party: { redirect_uris: [CALLBACK, 'https://app.example.com/extra'] } };
    ta.subordinates.set(LEAF, { ...ta.subordinates.get(LEAF)!, metadataPolicy: { openid_relying_party: { redirect_uris: { subset_of: [CALLBACK] } } } });
    await expect(policy().check(client, CALLBACK)).resolves.toBe('trusted');
    expect((await refusal(policy().check(client, 'https://app.example.com/extra'))).code).toBe('invalid_request');
  });

  it('refuses a chain that does not verify, saying why', async () => {
    ta.subordinates.set(LEAF, { ...ta.subordinates.get(LEAF)!, tamper: { payload: { exp: clock.nowSeconds() - 10 } } });
    const e = await refusal(policy().check(client, CALLBACK));
    expect(e.code).toBe('invalid_request');
    expect(e.reason).toBe('federation_expired');
    expect(e.description).toContain('no valid OpenID Federation trust chain for https://app.example.com');
  });

  it('an unreachable entity is temporarily_unavailable (503, Retry-After), not a refusal', async () => {
    fed.overrides.set(`${TA}/.well-known/openid-federation`, { status: 502, contentType: 'text/plain', body: 'bad gateway' });
    const e = await refusal(policy().check(client, CALLBACK));
    expect(e.code).toBe('temporarily_unavailable');
    expect(e.status).toBe(503);
    expect(e.headers['Retry-After']).toBe('30');
    expect(await counted()).toEqual({ unavailable: 1 });
  });

  it('counts each outcome in fpa_native_callback_federation_checks_total', async () => {
    const p = policy();
    await p.check(client, CALLBACK);
    await p.check(client, 'https://elsewhere.example.net/cb');
    await refusal(p.check(client, 'https://app.example.com/not-registered'));
    expect(await counted()).toEqual({ trusted: 1, unknown: 1, not_listed: 1 });
  });
});
