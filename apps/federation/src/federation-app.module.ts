import { type DynamicModule, Module } from '@nestjs/common';
import { BUILTIN_CHALLENGES } from '@fpa/challenges/builtin';
import type { AppConfig } from '@fpa/config';
import { FederationModule, FederationRouting } from '@fpa/federation';
import { ChallengeModule } from '@fpa/interaction';
import { JanitorModule } from '@fpa/janitor';
import { PlatformModule } from '@fpa/platform';

/**
 * The federation service (CONTRACT §1): `POST /federation/callback` (FED-12's response_uri, resuming
 * the flow the challenge service started, through the same interaction loop) and `GET /federation/jwks`
 * (the key of our client assertions at downstream servers).
 */
@Module({})
export class FederationAppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: FederationAppModule,
      imports: [PlatformModule.forRoot(config), JanitorModule, FederationModule.forRoot(), ChallengeModule.forRoot({ methods: BUILTIN_CHALLENGES, routing: [FederationRouting], endpoint: false })],
    };
  }
}
