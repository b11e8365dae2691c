import { type DynamicModule, Module } from '@nestjs/common';
import { BUILTIN_CHALLENGES } from '@fpa/challenges/builtin';
import type { AppConfig } from '@fpa/config';
import { AuthorizationServerMetadataModule } from '@fpa/grants';
import { FederationModule, FederationRouting } from '@fpa/federation';
import { BUILTIN_ROUTING, ChallengeModule } from '@fpa/interaction';
import { JanitorModule } from '@fpa/janitor';
import { OpenIdFederationEntityModule, OpenIdFederationTrustModule } from '@fpa/openid-federation';
import { PlatformModule } from '@fpa/platform';
import { TOKEN_GRANTS, TOKEN_METADATA } from '../../token/src/token-metadata';

/**
 * The federation service (CONTRACT §1): `POST /federation/callback` (FED-12's response_uri, resuming
 * the flow the challenge service started, through the same interaction loop), `GET /federation/jwks`
 * (the key of our client assertions at downstream servers), the suite's OpenID Federation entity
 * configuration (`/.well-known/openid-federation`, carrying the token service's RFC 8414 document, built
 * from the same lists) and the trust chain resolver for `native_callback_uri` (FED-4).
 */
@Module({})
export class FederationAppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: FederationAppModule,
      imports: [
        PlatformModule.forRoot(config),
        JanitorModule,
        AuthorizationServerMetadataModule.forRoot({ grantTypes: TOKEN_GRANTS.map((g) => g.grantType), metadata: TOKEN_METADATA }),
        OpenIdFederationEntityModule,
        OpenIdFederationTrustModule,
        FederationModule.forRoot(),
        ChallengeModule.forRoot({ methods: BUILTIN_CHALLENGES, routing: [FederationRouting, ...BUILTIN_ROUTING], endpoint: false }),
      ],
    };
  }
}
