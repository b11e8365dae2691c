import type { ChallengePlugin } from '@fpa/challenge-kit';
import { DigitalCredentialModule } from '@fpa/challenges/digital-credential';
import { EmailOtpModule } from '@fpa/challenges/email-otp';
import { PasskeyModule } from '@fpa/challenges/passkey';
import { SmsOtpModule } from '@fpa/challenges/sms-otp';
import { TotpModule } from '@fpa/challenges/totp';

/** The challenge modules the suite ships; CHALLENGE_METHODS enables a subset at run time. */
export const BUILTIN_CHALLENGES: readonly ChallengePlugin[] = [EmailOtpModule.plugin, SmsOtpModule.plugin, TotpModule.plugin, PasskeyModule.plugin, DigitalCredentialModule.plugin];
