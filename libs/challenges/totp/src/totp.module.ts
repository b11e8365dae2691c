import { Module } from '@nestjs/common';
import type { ChallengePlugin } from '@fpa/challenge-kit';
import { UsersModule } from '@fpa/users';
import { TotpChallenge } from './totp.challenge';

/** SecretBox (ChallengeKitModule) and CLOCK are global; the enrolled credentials come from UsersService. */
@Module({ imports: [UsersModule], providers: [TotpChallenge], exports: [TotpChallenge] })
export class TotpModule {
  static readonly plugin: ChallengePlugin = { id: 'totp', module: TotpModule, method: TotpChallenge };
}
