import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { AuthorizationDetailsRegistry, AuthzRequestModule } from '@fpa/authz-request';
import { ClientsModule } from '@fpa/clients';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { KEY_SET_ALGS } from '@fpa/crypto';
import { DpopModule } from '@fpa/dpop';
import { KeysModule } from '@fpa/keys';
import type { MetadataPart } from '@fpa/oauth-core';
import { SessionModule } from '@fpa/session';
import { ClientAuthenticator } from './client-authenticator.service';
import { ClientKeySets } from './client-keys/client-key-sets.service';
import { HttpJwksFetcher, JWKS_SOURCE } from './client-keys/jwks-fetcher';
import { RemoteKeySets } from './client-keys/remote-key-sets';
import { DiscoveryController, METADATA_PARTS } from './discovery.controller';
import { GRANT_REGISTRY, type GrantHandler, type GrantPlugin } from './grant-handler';
import { TokenEndpointService } from './token-endpoint.service';
import { TokenIntrospectionService } from './token-introspection.service';
import { TokenIssuer } from './token-issuer.service';
import { TokenMetrics } from './token.metrics';
import { TokenManagementController } from './token-management.controller';
import { TokenController } from './token.controller';

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
    const metadata: Provider = {
      provide: METADATA_PARTS,
      inject: [APP_CONFIG, AuthorizationDetailsRegistry],
      useFactory: (config: AppConfig, details: AuthorizationDetailsRegistry): MetadataPart[] => [
        tokenMetadata(config, [...seen]),
        // RAR-8: the types this deployment validates (the same registry every endpoint uses).
        { authorization_details_types_supported: details.types },
        ...(options.metadata ?? []).map((m) => m(config)),
      ],
    };
    return {
      module: TokenModule,
      // Global, as ChallengeModule is: the PAR endpoint (libs/par) authenticates clients and checks
      // DPoP proofs with this module's ClientAuthenticator and metrics, exactly as /token does.
      global: true,
      imports: [ClientsModule, SessionModule, KeysModule, DpopModule, AuthzRequestModule, ...options.grants.flatMap((g) => g.imports ?? [])],
      controllers: [TokenController, TokenManagementController, DiscoveryController],
      providers: [
        ...handlers,
        registry,
        metadata,
        TokenEndpointService,
        ClientAuthenticator,
        ClientKeySets,
        RemoteKeySets,
        { provide: JWKS_SOURCE, useClass: HttpJwksFetcher },
        TokenIssuer,
        TokenIntrospectionService,
        TokenMetrics,
      ],
      exports: [ClientAuthenticator, TokenIssuer, TokenMetrics, KeysModule, DpopModule],
    };
  }
}

/**
 * Methods by which a client proves who it is. Assertions are signed with asymmetric algorithms
 * only (KEY_SET_ALGS: a client's own keys; device keys use a subset of them).
 */
const CLIENT_AUTH_METHODS = ['private_key_jwt', 'client_secret_basic', 'client_secret_post'] as const;

function tokenMetadata(config: AppConfig, grantTypes: string[]): MetadataPart {
  const issuer = config.http.issuer;
  return {
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/jwks`,
    introspection_endpoint: `${issuer}/introspect`,
    revocation_endpoint: `${issuer}/revoke`,
    grant_types_supported: grantTypes,
    // META-3 / JWTCA-8: what ClientAuthenticator accepts at each endpoint, and nothing else.
    // `none`: public clients (at /token and /revoke); /introspect is for confidential clients only.
    token_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS, 'none'],
    token_endpoint_auth_signing_alg_values_supported: [...KEY_SET_ALGS],
    introspection_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
    introspection_endpoint_auth_signing_alg_values_supported: [...KEY_SET_ALGS],
    revocation_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS, 'none'],
    revocation_endpoint_auth_signing_alg_values_supported: [...KEY_SET_ALGS],
    dpop_signing_alg_values_supported: [...config.dpop.algs],
    // RFC 9068 access tokens are signed with the suite's keys.
    access_token_signing_alg_values_supported: [config.keys.signingAlg],
  };
}
