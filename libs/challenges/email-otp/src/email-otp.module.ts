import { Module } from '@nestjs/common';
import type { ChallengePlugin } from '@fpa/challenge-kit';
import { EmailOtpChallenge } from './email-otp.challenge';

@Module({ providers: [EmailOtpChallenge], exports: [EmailOtpChallenge] })
export class EmailOtpModule {
  static readonly plugin: ChallengePlugin = { id: 'email_otp', module: EmailOtpModule, method: EmailOtpChallenge };
}
