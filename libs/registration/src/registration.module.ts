import { type DynamicModule, Module } from '@nestjs/common';
import { ClientsModule } from '@fpa/clients';
import { KeysModule } from '@fpa/keys';
import { SessionModule } from '@fpa/session';
import { DeviceRegistrationService } from './device-registration.service';
import { RegistrationMetrics } from './registration.metrics';
import { RegistrationController } from './registration.controller';

export const registrationMetadata = (issuer: string): Record<string, unknown> => ({
  device_registration_endpoint: `${issuer}/register`,
});

/**
 * `withEndpoint: true` serves `POST /register` (registration app, standalone); the token app
 * imports the service only, for the `fp_register` grant.
 */
@Module({})
export class RegistrationModule {
  static forRoot(options: { withEndpoint: boolean }): DynamicModule {
    return {
      module: RegistrationModule,
      imports: [ClientsModule, SessionModule, KeysModule],
      controllers: options.withEndpoint ? [RegistrationController] : [],
      providers: [DeviceRegistrationService, RegistrationMetrics],
      exports: [DeviceRegistrationService, RegistrationMetrics],
    };
  }
}
