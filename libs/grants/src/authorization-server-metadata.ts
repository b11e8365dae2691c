import { type DynamicModule, Inject, Injectable, Module } from '@nestjs/common';
import { AuthorizationDetailsRegistry, AuthzRequestModule } from '@fpa/authz-request';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { KEY_SET_ALGS } from '@fpa/crypto';
import { mergeMetadata, type MetadataPart } from '@fpa/oauth-core';
import { POP_RESOURCE_SERVERS, PopResourceServerRegistry } from './pop/pop-resource-servers';

export const METADATA_PARTS = Symbol('METADATA_PARTS');

export interface AuthorizationServerMetadataOptions {
  /** The token endpoint's grant types (the grant plug-ins' `grantType`s). */
  readonly grantTypes: readonly string[];
  /** Extra RFC 8414 members from other features (device registration, challenge endpoint, …). */
  readonly metadata?: readonly ((config: AppConfig) => MetadataPart)[];
}

/**
 * The suite's RFC 8414 document, assembled once from every feature's part. The token service serves
 * it at `/.well-known/oauth-authorization-server`; the federation service signs the same document
 * into its entity configuration (OpenID Federation 1.0 `oauth_authorization_server` metadata), so the
 * two cannot disagree.
 */
@Injectable()
export class AuthorizationServerMetadata {
  private merged: Record<string, unknown> | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(METADATA_PARTS) private readonly parts: readonly MetadataPart[],
  ) {}

  document(): Record<string, unknown> {
    this.merged ??= mergeMetadata(this.config.http.issuer, this.parts);
    return this.merged;
  }
}

/** Global, so whichever app imports it (the token or the federation service) the document is one provider. */
@Module({})
export class AuthorizationServerMetadataModule {
  static forRoot(options: AuthorizationServerMetadataOptions): DynamicModule {
    return {
      module: AuthorizationServerMetadataModule,
      global: true,
      imports: [AuthzRequestModule],
      providers: [
        {
          provide: METADATA_PARTS,
          inject: [APP_CONFIG, AuthorizationDetailsRegistry, POP_RESOURCE_SERVERS],
          useFactory: (config: AppConfig, details: AuthorizationDetailsRegistry, popServers: PopResourceServerRegistry): MetadataPart[] => [
            tokenMetadata(config, options.grantTypes),
            // RAR-8: the types this deployment validates (the same registry every endpoint uses).
            { authorization_details_types_supported: details.types },
            popMetadata(popServers),
            ...(options.metadata ?? []).map((m) => m(config)),
          ],
        },
        AuthorizationServerMetadata,
        // Issue 12: the registered PoP resource servers, read once at start-up (a bad file stops it); the grants use the same instance.
        { provide: POP_RESOURCE_SERVERS, inject: [APP_CONFIG], useFactory: (c: AppConfig) => PopResourceServerRegistry.fromFile(c.pop.resourceServersFile) },
      ],
      exports: [AuthorizationServerMetadata, POP_RESOURCE_SERVERS],
    };
  }
}

/**
 * Methods by which a client proves who it is. Assertions are signed with asymmetric algorithms
 * only (KEY_SET_ALGS: a client's own keys; device keys use a subset of them).
 */
const CLIENT_AUTH_METHODS = ['private_key_jwt', 'client_secret_basic', 'client_secret_post'] as const;

function tokenMetadata(config: AppConfig, grantTypes: readonly string[]): MetadataPart {
  const issuer = config.http.issuer;
  return {
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/jwks`,
    introspection_endpoint: `${issuer}/introspect`,
    revocation_endpoint: `${issuer}/revoke`,
    grant_types_supported: [...grantTypes],
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

/**
 * Issue 12 (seed 001, docs/pop-tokens.md): extension members saying which PoP profile this server
 * speaks — `req_cnf` (`jwk` or `kid`) proven by a DPoP proof, or `token_type=pop` for a generated
 * symmetric key; the key types some registered resource server accepts; proofs at the resource
 * server (`dpop+jwt` for client keys, HS256 `pop+jwt` for symmetric ones); `rs_cnf` returned in
 * every PoP token response (one resource server per token). Absent when no resource server is registered (META-1).
 */
function popMetadata(servers: PopResourceServerRegistry): MetadataPart {
  if (!servers.enabled) return {};
  return {
    pop_token_profile: 'urn:first-party-auth:pop:http-dpop',
    pop_key_types_supported: servers.keyTypes(),
    req_cnf_members_supported: ['jwk', 'kid'],
    pop_proof_types_supported: ['dpop+jwt', 'pop+jwt'],
    rs_cnf_supported: true,
  };
}
