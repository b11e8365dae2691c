import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { AuthzRequestModule } from '@fpa/authz-request';
import { ClientsModule } from '@fpa/clients';
import type { AppConfig } from '@fpa/config';
import { DpopModule } from '@fpa/dpop';
import { KeysModule } from '@fpa/keys';
import type { MetadataPart } from '@fpa/oauth-core';
import { SessionModule } from '@fpa/session';
import { ClientAuthenticator } from './client-authenticator.service';
import { ClientKeySets } from './client-keys/client-key-sets.service';
import { HttpJwksFetcher, JWKS_SOURCE } from './client-keys/jwks-fetcher';
import { RemoteKeySets } from './client-keys/remote-key-sets';
import { AuthorizationServerMetadataModule } from './authorization-server-metadata';
import { DiscoveryController } from './discovery.controller';
import { GRANT_REGISTRY, type GrantHandler, type GrantPlugin } from './grant-handler';
import { TokenEndpointService } from './token-endpoint.service';
import { TokenIntrospectionService } from './token-introspection.service';
import { TokenIssuer } from './token-issuer.service';
import { TokenMetrics } from './token.metrics';
import { TokenManagementController } from './token-management.controller';
import { TokenController } from './token.controller';
import { PopBinder } from './pop/pop-binder.service';
import { PopKeyStore } from './pop/pop-key.store';

export interface TokenModuleOptions {
  readonly grants: readonly GrantPlugin[];
  /** Extra RFC 8414 members from other features (device registration, challenge endpoint, …). */
  readonly metadata?: readonly ((config: AppConfig) => MetadataPart)[];
}

/**
 * The token service: `/token`, `/introspect`, `/revoke`, `/jwks` and the metadata document.
 * Grants are one list, read twice: it yields both the providers and the registry, and a
 * duplicate `grant_type` stops start-up.
 */
@Module({})
export class TokenModule {
  static forRoot(options: TokenModuleOptions): DynamicModule {
    const seen = new Set<string>();
    for (const g of options.grants) {
      if (seen.has(g.grantType)) throw new Error(`grant_type ${g.grantType} is registered twice`);
      seen.add(g.grantType);
    }
    const handlers = options.grants.map((g) => g.handler);
    const registry: Provider = {
      provide: GRANT_REGISTRY,
      inject: handlers,
      useFactory: (...instances: GrantHandler[]) => {
        const map = new Map<string, GrantHandler>();
        instances.forEach((h, i) => {
          if (h.grantType !== options.grants[i].grantType) throw new Error(`grant plug-in ${options.grants[i].grantType} declares ${h.grantType}`);
          map.set(h.grantType, h);
        });
        return map;
      },
    };
    return {
      module: TokenModule,
      // Global, as ChallengeModule is: the PAR endpoint (libs/par) authenticates clients and checks
      // DPoP proofs with this module's ClientAuthenticator and metrics, exactly as /token does.
      global: true,
      imports: [
        ClientsModule,
        SessionModule,
        KeysModule,
        DpopModule,
        AuthzRequestModule,
        AuthorizationServerMetadataModule.forRoot({ grantTypes: [...seen], metadata: options.metadata }),
        ...options.grants.flatMap((g) => g.imports ?? []),
      ],
      controllers: [TokenController, TokenManagementController, DiscoveryController],
      providers: [
        ...handlers,
        registry,
        TokenEndpointService,
        ClientAuthenticator,
        ClientKeySets,
        RemoteKeySets,
        { provide: JWKS_SOURCE, useClass: HttpJwksFetcher },
        TokenIssuer,
        TokenIntrospectionService,
        TokenMetrics,
        // Issue 12: PoP tokens (seed 001); the resource-server registry comes from AuthorizationServerMetadataModule (global).
        PopKeyStore,
        PopBinder,
      ],
      exports: [ClientAuthenticator, TokenIssuer, TokenMetrics, KeysModule, DpopModule],
    };
  }
}
