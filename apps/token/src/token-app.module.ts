import { type DynamicModule, Module } from '@nestjs/common';
import type { AppConfig } from '@fpa/config';
import { TokenModule } from '@fpa/grants';
import { JanitorModule } from '@fpa/janitor';
import { OpenIdFederationTrustModule } from '@fpa/openid-federation';
import { ParModule } from '@fpa/par';
import { PlatformModule } from '@fpa/platform';
import { TOKEN_GRANTS, TOKEN_METADATA } from './token-metadata';

export { TOKEN_GRANTS } from './token-metadata';

/**
 * The token service (CONTRACT §1): /token, /par, /introspect, /revoke, /jwks, metadata. The OpenID
 * Federation trust policy is loaded for PAR's `native_callback_uri` (FED-4).
 */
@Module({})
export class TokenAppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: TokenAppModule,
      imports: [PlatformModule.forRoot(config), JanitorModule, TokenModule.forRoot({ grants: TOKEN_GRANTS, metadata: TOKEN_METADATA }), ParModule, OpenIdFederationTrustModule],
    };
  }
}
