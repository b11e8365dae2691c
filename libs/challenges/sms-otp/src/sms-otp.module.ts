import { Module } from '@nestjs/common';
import type { ChallengePlugin } from '@fpa/challenge-kit';
import { SmsOtpChallenge } from './sms-otp.challenge';

@Module({ providers: [SmsOtpChallenge], exports: [SmsOtpChallenge] })
export class SmsOtpModule {
  static readonly plugin: ChallengePlugin = { id: 'sms_otp', module: SmsOtpModule, method: SmsOtpChallenge };
}
