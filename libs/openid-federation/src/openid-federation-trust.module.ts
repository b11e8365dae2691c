import { Global, Module } from '@nestjs/common';
import { MORE_NATIVE_CALLBACK_TRUST_POLICIES } from '@fpa/authz-request';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { CLOCK, type Clock } from '@fpa/oauth-core';
import { ENTITY_STATEMENT_SOURCE, HttpEntityStatementFetcher, type EntityStatementSource } from './chain/entity-statement-fetcher';
import { TrustChainResolver } from './chain/trust-chain-resolver';
import { OpenIdFederationCallbackTrust } from './openid-federation-callback-trust';

/**
 * FED-4 through OpenID Federation: the trust chain resolver (configured from OPENID_FEDERATION_*)
 * and the `native_callback_uri` trust policy built on it. Needs no store: chains are cached in
 * memory until their earliest `exp`. Global, so that libs/authz-request's policy list finds it as
 * MORE_NATIVE_CALLBACK_TRUST_POLICIES (asked after the per-client allow-list) wherever it is loaded.
 */
@Global()
@Module({
  providers: [
    {
      provide: ENTITY_STATEMENT_SOURCE,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): EntityStatementSource =>
        new HttpEntityStatementFetcher({ maxBytes: config.openidFederation.maxResponseBytes, allowHttpLoopback: config.openidFederation.allowHttpLoopback }),
    },
    {
      provide: TrustChainResolver,
      inject: [ENTITY_STATEMENT_SOURCE, APP_CONFIG, CLOCK],
      // The anchors' keys are imported here, so a bad OPENID_FEDERATION_TRUST_ANCHORS stops start-up.
      useFactory: async (source: EntityStatementSource, config: AppConfig, clock: Clock) => {
        const f = config.openidFederation;
        const resolver = new TrustChainResolver(source, f.trustAnchors, { ...f, clockSkewSeconds: config.clockSkewSeconds }, clock);
        await resolver.validateAnchors();
        return resolver;
      },
    },
    OpenIdFederationCallbackTrust,
    { provide: MORE_NATIVE_CALLBACK_TRUST_POLICIES, inject: [OpenIdFederationCallbackTrust], useFactory: (p: OpenIdFederationCallbackTrust) => [p] },
  ],
  exports: [TrustChainResolver, OpenIdFederationCallbackTrust, MORE_NATIVE_CALLBACK_TRUST_POLICIES],
})
export class OpenIdFederationTrustModule {}
