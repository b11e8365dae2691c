import { Injectable } from '@nestjs/common';
import { DeviceRegistrationService, REGISTRATION_PARAMS, RegistrationModule } from '@fpa/registration';
import type { GrantContext, GrantHandler, GrantPlugin, GrantResult } from '../grant-handler';

/** Seed 004: device registration through the token endpoint; the same handler as `/register`. */
@Injectable()
export class FpRegisterGrant implements GrantHandler {
  static readonly plugin: GrantPlugin = {
    grantType: 'fp_register',
    handler: FpRegisterGrant,
    imports: [RegistrationModule.forRoot({ withEndpoint: false })],
  };

  readonly grantType = 'fp_register';
  readonly parameters = REGISTRATION_PARAMS;
  readonly clientAuth = 'none' as const;
  readonly dpop = 'ignored' as const;

  constructor(private readonly registration: DeviceRegistrationService) {}

  async handle(ctx: GrantContext): Promise<GrantResult> {
    return { body: { ...(await this.registration.register(ctx.form, ctx.request)) } };
  }
}
