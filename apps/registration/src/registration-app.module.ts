import { type DynamicModule, Module } from '@nestjs/common';
import type { AppConfig } from '@fpa/config';
import { JanitorModule } from '@fpa/janitor';
import { PlatformModule } from '@fpa/platform';
import { RegistrationModule } from '@fpa/registration';

/** The registration service (CONTRACT §1): POST /register. */
@Module({})
export class RegistrationAppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: RegistrationAppModule,
      imports: [PlatformModule.forRoot(config), JanitorModule, RegistrationModule.forRoot({ withEndpoint: true })],
    };
  }
}
