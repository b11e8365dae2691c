import { type DynamicModule, Module } from '@nestjs/common';
import type { AppConfig } from '@fpa/config';
import { challengeMetadata } from '@fpa/interaction';
import { AuthorizationCodeGrant, ClientCredentialsGrant, FpRegisterGrant, RefreshTokenGrant, TokenModule } from '@fpa/grants';
import { JanitorModule } from '@fpa/janitor';
import { ParModule, parMetadata } from '@fpa/par';
import { PlatformModule } from '@fpa/platform';
import { registrationMetadata } from '@fpa/registration';
import { webLoginMetadata } from '@fpa/web-login';

/** The token service (CONTRACT §1): /token, /par, /introspect, /revoke, /jwks, metadata. */
export const TOKEN_GRANTS = [FpRegisterGrant.plugin, ClientCredentialsGrant.plugin, RefreshTokenGrant.plugin, AuthorizationCodeGrant.plugin];

@Module({})
export class TokenAppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: TokenAppModule,
      imports: [
        PlatformModule.forRoot(config),
        JanitorModule,
        TokenModule.forRoot({ grants: TOKEN_GRANTS, metadata: [(c) => registrationMetadata(c.http.issuer), challengeMetadata, webLoginMetadata, parMetadata] }),
        ParModule,
      ],
    };
  }
}
