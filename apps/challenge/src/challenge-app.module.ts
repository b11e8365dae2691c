import { type DynamicModule, Module } from '@nestjs/common';
import { ChallengeModule, ChallengeOpenApiModule } from '@fpa/interaction';
import { BUILTIN_CHALLENGES } from '@fpa/challenges/builtin';
import type { AppConfig } from '@fpa/config';
import { JanitorModule } from '@fpa/janitor';
import { PlatformModule } from '@fpa/platform';
import { WebLoginModule } from '@fpa/web-login';

/** The challenge service (CONTRACT §1, §5): POST /authorize-challenge with the built-in modules, the browser login (GET /authorize) running the same core, and the OpenAPI document at /openapi.json. */
@Module({})
export class ChallengeAppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return { module: ChallengeAppModule, imports: [PlatformModule.forRoot(config), JanitorModule, ChallengeModule.forRoot({ methods: BUILTIN_CHALLENGES }), WebLoginModule, ChallengeOpenApiModule] };
  }
}
