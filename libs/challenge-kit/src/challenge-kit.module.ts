import { Global, Module } from '@nestjs/common';
import { OtpService } from './otp.service';
import { SecretBox } from './secret-box.service';

/** Helpers challenge modules may inject (OTP hashing, sealing secrets in flow state). */
@Global()
@Module({ providers: [OtpService, SecretBox], exports: [OtpService, SecretBox] })
export class ChallengeKitModule {}
