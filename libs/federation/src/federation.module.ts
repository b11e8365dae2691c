import { type DynamicModule, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { DpopModule } from '@fpa/dpop';
import { CLOCK, type Clock } from '@fpa/oauth-core';
import { DownstreamClient } from './downstream/downstream-client';
import { DownstreamMetadataCache } from './downstream/downstream-metadata.service';
import { DownstreamRegistry } from './downstream/downstream-registry';
import { FederationMetrics } from './federation.metrics';
import { FederationController } from './http/federation-callback.controller';
import { FetchOutboundHttp, OUTBOUND_HTTP, type OutboundHttp } from './http/outbound-http';
import { IDENTITY_LINKS, PgIdentityLinks } from './identity/identity-linker.service';
import { FEDERATION_KEYS, PgFederationKeys, type FederationKeyring } from './keys/federation-keys.service';
import { FederationCompleter } from './routing/federation-completer.service';
import { FederationStarter } from './routing/federation-starter.service';

/**
 * The federating side (issue 10): the downstream registry (FEDERATION_DOWNSTREAMS_FILE), the one
 * outbound HTTP client, metadata and key-set caches, the suite's client keys, identity links, and
 * `/federation/callback` + `/federation/jwks`. Global, so the routing rule registered with
 * `ChallengeModule.forRoot({ routing: [FederationRouting] })` finds its collaborators.
 */
@Module({})
export class FederationModule {
  /** `endpoints: false`: the challenge service federates (the rule) but `/federation/*` is the federation service's (CONTRACT §1). */
  static forRoot(options: { endpoints?: boolean } = {}): DynamicModule {
    return {
      module: FederationModule,
      global: true,
      imports: [DpopModule],
      controllers: options.endpoints === false ? [] : [FederationController],
      providers: [
        { provide: DownstreamRegistry, inject: [APP_CONFIG], useFactory: (c: AppConfig) => DownstreamRegistry.fromFile(c.federation.downstreamsFile, c.federation.allowHttpLoopback) },
        {
          provide: OUTBOUND_HTTP,
          inject: [APP_CONFIG, DownstreamRegistry],
          useFactory: (c: AppConfig, r: DownstreamRegistry): OutboundHttp =>
            new FetchOutboundHttp({ timeoutMs: c.federation.httpTimeoutMs, maxBytes: c.federation.httpMaxBytes, allowedHosts: () => r.hosts, allowHttpLoopback: c.federation.allowHttpLoopback }),
        },
        { provide: DownstreamMetadataCache, inject: [OUTBOUND_HTTP, CLOCK, APP_CONFIG], useFactory: (h: OutboundHttp, clock: Clock, c: AppConfig) => new DownstreamMetadataCache(h, clock, c.federation.metadataCacheSeconds) },
        { provide: FEDERATION_KEYS, useClass: PgFederationKeys },
        { provide: DownstreamClient, inject: [OUTBOUND_HTTP, FEDERATION_KEYS, CLOCK], useFactory: (h: OutboundHttp, k: FederationKeyring, clock: Clock) => new DownstreamClient(h, k, clock) },
        { provide: IDENTITY_LINKS, useClass: PgIdentityLinks },
        FederationMetrics,
        FederationStarter,
        FederationCompleter,
      ],
      exports: [DownstreamRegistry, OUTBOUND_HTTP, DownstreamMetadataCache, FEDERATION_KEYS, DownstreamClient, IDENTITY_LINKS, FederationMetrics, FederationStarter, FederationCompleter],
    };
  }
}
