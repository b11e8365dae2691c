import { Module } from '@nestjs/common';
import type { ChallengePlugin } from '@fpa/challenge-kit';
import { UsersModule } from '@fpa/users';
import { PasskeyChallenge } from './passkey.challenge';

@Module({ imports: [UsersModule], providers: [PasskeyChallenge], exports: [PasskeyChallenge] })
export class PasskeyModule {
  static readonly plugin: ChallengePlugin = { id: 'passkey', module: PasskeyModule, method: PasskeyChallenge };
}
