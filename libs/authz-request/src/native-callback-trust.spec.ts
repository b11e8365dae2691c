import { CLIENT_METADATA_DEFAULTS, type Client } from '@fpa/clients';
import { OAuthError } from '@fpa/oauth-core';
import { MetricsRegistry } from '@fpa/platform';
import { AllowListNativeCallbackPolicy, NativeCallbackTrust, nativeCallbackTrustPoliciesProvider, type NativeCallbackTrustPolicy } from './native-callback-trust';

const client = (nativeCallbackUris: string[]): Client => ({
  id: 'as1',
  name: 'as1',
  type: 'confidential',
  firstParty: false,
  grantTypes: ['authorization_code'],
  authMethods: ['private_key_jwt'],
  secretHash: null,
  scopes: ['openid'],
  resources: [],
  permissions: [],
  dpopBoundAccessTokens: false,
  enabled: true,
  challengePolicy: null,
  assertionAudience: null,
  ...CLIENT_METADATA_DEFAULTS,
  nativeCallbackUris,
});
const CB = 'https://app.example.com/native';
/** A policy with a fixed verdict that records whether it was asked. */
const fixed = (name: string, verdict: 'trusted' | 'unknown' | 'refuse'): NativeCallbackTrustPolicy & { asked: number } => ({
  name,
  asked: 0,
  async check() {
    this.asked++;
    if (verdict === 'refuse') throw new OAuthError('invalid_request', `native_callback_uri refused by ${name}`);
    return verdict;
  },
});

describe('NativeCallbackTrust (FED-4: ordered trust policies)', () => {
  it('the allow-list trusts exact registered values only', async () => {
    const allow = new AllowListNativeCallbackPolicy();
    await expect(allow.check(client([CB]), CB)).resolves.toBe('trusted');
    await expect(allow.check(client([CB]), `${CB}/`)).resolves.toBe('unknown');
    await expect(allow.check(client([]), CB)).resolves.toBe('unknown');
  });

  it('asks in order: the first trusted wins and the rest are not asked; unknown passes on; none trusting is invalid_request naming the parameter', async () => {
    const registry = new MetricsRegistry();
    const later = fixed('federation', 'trusted');
    const last = fixed('never', 'trusted');
    const trust = new NativeCallbackTrust([new AllowListNativeCallbackPolicy(), later, last], registry);
    await expect(trust.assertTrusted(client([CB]), CB)).resolves.toBe('allow_list');
    expect(later.asked).toBe(0);
    await expect(trust.assertTrusted(client([]), CB)).resolves.toBe('federation');
    expect(last.asked).toBe(0);
    const none = new NativeCallbackTrust([new AllowListNativeCallbackPolicy(), fixed('other', 'unknown')], registry);
    await expect(none.assertTrusted(client([]), CB)).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/native_callback_uri/) });
    const metric = await registry.registry.getSingleMetric('fpa_native_callback_trust_total')!.get();
    expect(metric.values).toEqual(expect.arrayContaining([expect.objectContaining({ labels: { policy: 'none', outcome: 'refused' }, value: 1 })]));
  });

  it('a definite refusal stops the search', async () => {
    const after = fixed('after', 'trusted');
    const trust = new NativeCallbackTrust([fixed('deny', 'refuse'), after]);
    await expect(trust.assertTrusted(client([CB]), CB)).rejects.toMatchObject({ code: 'invalid_request' });
    expect(after.asked).toBe(0);
  });

  it('the provider puts the allow-list first, then MORE_NATIVE_CALLBACK_TRUST_POLICIES', () => {
    const allow = new AllowListNativeCallbackPolicy();
    const more = fixed('federation', 'unknown');
    expect(nativeCallbackTrustPoliciesProvider.useFactory(allow, [more])).toEqual([allow, more]);
    expect(nativeCallbackTrustPoliciesProvider.useFactory(allow, undefined)).toEqual([allow]);
  });
});
