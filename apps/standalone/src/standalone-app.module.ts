import { type DynamicModule, Inject, Injectable, Logger, Module, type OnApplicationBootstrap } from '@nestjs/common';
import { ClientAdminService, ClientsModule, DEMO_CLIENT, DEMO_WEB_CLIENT } from '@fpa/clients';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { BUILTIN_ROUTING, challengeMetadata, ChallengeModule } from '@fpa/interaction';
import { BUILTIN_CHALLENGES } from '@fpa/challenges/builtin';
import { AuthorizationCodeGrant, ClientCredentialsGrant, FpRegisterGrant, RefreshTokenGrant, TokenModule } from '@fpa/grants';
import { FederationModule, FederationRouting } from '@fpa/federation';
import { JanitorModule } from '@fpa/janitor';
import { OpenIdFederationEntityModule, OpenIdFederationTrustModule } from '@fpa/openid-federation';
import { ParModule, parMetadata } from '@fpa/par';
import { PlatformModule } from '@fpa/platform';
import { RegistrationModule, registrationMetadata } from '@fpa/registration';
import { SampleApiModule } from '@fpa/sample-api';
import { WebLoginModule, webLoginMetadata } from '@fpa/web-login';
import { SuiteOpenApiModule } from '@fpa/openapi';
import { SUITE_OPENAPI } from '../../challenge/src/suite-openapi';

export const STANDALONE_GRANTS = [FpRegisterGrant.plugin, ClientCredentialsGrant.plugin, RefreshTokenGrant.plugin, AuthorizationCodeGrant.plugin];

/** Embedded default: the demo clients exist from the first start (CONTRACT §8): the first-party app and the browser demo's web client. */
@Injectable()
class EmbeddedBootstrap implements OnApplicationBootstrap {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clients: ClientAdminService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.mode !== 'embedded') return;
    for (const demo of [DEMO_CLIENT, DEMO_WEB_CLIENT]) {
      const { created } = await this.clients.ensure(demo);
      if (created) new Logger('Embedded').log(`created the demo client ${demo.client_id}`);
    }
  }
}

/** Every module in one process: registration, token, challenge, federation (the entity configuration, trust chains), the sample API. */
@Module({})
export class StandaloneAppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: StandaloneAppModule,
      imports: [
        PlatformModule.forRoot(config),
        JanitorModule,
        ClientsModule,
        RegistrationModule.forRoot({ withEndpoint: true }),
        TokenModule.forRoot({ grants: STANDALONE_GRANTS, metadata: [(c) => registrationMetadata(c.http.issuer), challengeMetadata, webLoginMetadata, parMetadata] }),
        ParModule,
        FederationModule.forRoot(),
        ChallengeModule.forRoot({ methods: BUILTIN_CHALLENGES, routing: [FederationRouting, ...BUILTIN_ROUTING] }),
        WebLoginModule,
        OpenIdFederationEntityModule,
        OpenIdFederationTrustModule,
        SuiteOpenApiModule.forRoot({ contributions: SUITE_OPENAPI }),
        SampleApiModule.forRoot({ keys: 'local' }),
      ],
      providers: [EmbeddedBootstrap],
    };
  }
}
