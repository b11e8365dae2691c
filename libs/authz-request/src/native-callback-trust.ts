import { Inject, Injectable, Optional } from '@nestjs/common';
import type { Client } from '@fpa/clients';
import { OAuthError } from '@fpa/oauth-core';
import { MetricsRegistry } from '@fpa/platform';

/**
 * One way of establishing trust in a `native_callback_uri` (FED-4: "trust establishment mechanisms
 * are out of scope"; closed ecosystems use an allow-list, open ones OpenID Federation). Policies
 * are asked in order; the first `trusted` wins.
 */
export interface NativeCallbackTrustPolicy {
  readonly name: string;
  /** 'trusted' establishes trust; 'unknown' lets the next policy decide. A definite refusal throws OAuthError('invalid_request', …). */
  check(client: Client, uri: string): Promise<'trusted' | 'unknown'>;
}

/** The ordered policy list (built-in allow-list first, then MORE_NATIVE_CALLBACK_TRUST_POLICIES). */
export const NATIVE_CALLBACK_TRUST_POLICIES = Symbol('NATIVE_CALLBACK_TRUST_POLICIES');

/**
 * Extension point: a global module that provides this token (an array of policies) adds them after
 * the allow-list, without libs/authz-request importing it (e.g. the OpenID Federation trust-chain
 * policy: `{ provide: MORE_NATIVE_CALLBACK_TRUST_POLICIES, inject: [OpenIdFederationTrustPolicy], useFactory: (p) => [p] }`).
 */
export const MORE_NATIVE_CALLBACK_TRUST_POLICIES = Symbol('MORE_NATIVE_CALLBACK_TRUST_POLICIES');

/** FED-4 (closed ecosystems): the client's registered `native_callback_uris`, exact string match. */
@Injectable()
export class AllowListNativeCallbackPolicy implements NativeCallbackTrustPolicy {
  readonly name = 'allow_list';

  check(client: Client, uri: string): Promise<'trusted' | 'unknown'> {
    return Promise.resolve(client.nativeCallbackUris.includes(uri) ? 'trusted' : 'unknown');
  }
}

/**
 * FED-3/FED-4: asks the policies in order whether `uri` may be this client's native callback. No
 * policy trusting it is `invalid_request` naming the parameter; the caller stores nothing then.
 */
@Injectable()
export class NativeCallbackTrust {
  private readonly decisions;

  constructor(
    @Inject(NATIVE_CALLBACK_TRUST_POLICIES) private readonly policies: readonly NativeCallbackTrustPolicy[],
    @Optional() metrics?: MetricsRegistry,
  ) {
    this.decisions = metrics?.counter({
      name: 'fpa_native_callback_trust_total',
      help: 'native_callback_uri trust decisions (FED-4) by deciding policy (none when no policy trusted it) and outcome.',
      labelNames: ['policy', 'outcome'] as const,
    });
  }

  /** Resolves with the name of the policy that trusted it; throws `invalid_request` otherwise. */
  async assertTrusted(client: Client, uri: string): Promise<string> {
    for (const policy of this.policies) {
      let verdict: 'trusted' | 'unknown';
      try {
        verdict = await policy.check(client, uri);
      } catch (e) {
        if (e instanceof OAuthError) this.decisions?.inc({ policy: policy.name, outcome: 'refused' });
        throw e;
      }
      if (verdict === 'trusted') {
        this.decisions?.inc({ policy: policy.name, outcome: 'trusted' });
        return policy.name;
      }
    }
    this.decisions?.inc({ policy: 'none', outcome: 'refused' });
    throw new OAuthError('invalid_request', 'native_callback_uri is not trusted for this client (not on its allow-list)');
  }
}

/** The provider of the ordered list: the allow-list, then whatever MORE_NATIVE_CALLBACK_TRUST_POLICIES adds. */
export const nativeCallbackTrustPoliciesProvider = {
  provide: NATIVE_CALLBACK_TRUST_POLICIES,
  inject: [AllowListNativeCallbackPolicy, { token: MORE_NATIVE_CALLBACK_TRUST_POLICIES, optional: true }],
  useFactory: (allowList: AllowListNativeCallbackPolicy, more?: readonly NativeCallbackTrustPolicy[]): readonly NativeCallbackTrustPolicy[] => [allowList, ...(more ?? [])],
};
