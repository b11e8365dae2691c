import { type DynamicModule, Module } from '@nestjs/common';
import { BUILTIN_ROUTING, ChallengeModule } from '@fpa/interaction';
import { BUILTIN_CHALLENGES } from '@fpa/challenges/builtin';
import type { AppConfig } from '@fpa/config';
import { FederationModule, FederationRouting } from '@fpa/federation';
import { JanitorModule } from '@fpa/janitor';
import { OpenIdFederationTrustModule } from '@fpa/openid-federation';
import { PlatformModule } from '@fpa/platform';
import { WebLoginModule } from '@fpa/web-login';
import { SuiteOpenApiModule } from '@fpa/openapi';
import { SUITE_OPENAPI } from './suite-openapi';

/** The challenge service (CONTRACT §1, §5): POST /authorize-challenge with the built-in modules, the browser login (GET /authorize) running the same core, and the suite's OpenAPI document at /openapi.json (every service's endpoints: the ingress routes it here). The OpenID Federation trust policy is loaded for `native_callback_uri` (FED-4). */
@Module({})
export class ChallengeAppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return { module: ChallengeAppModule, imports: [PlatformModule.forRoot(config), JanitorModule, FederationModule.forRoot({ endpoints: false }), ChallengeModule.forRoot({ methods: BUILTIN_CHALLENGES, routing: [FederationRouting, ...BUILTIN_ROUTING] }), WebLoginModule, OpenIdFederationTrustModule, SuiteOpenApiModule.forRoot({ contributions: SUITE_OPENAPI })] };
  }
}
