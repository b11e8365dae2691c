import type { ChallengePlugin } from '@fpa/challenge-kit';
import { EmailOtpModule } from '@fpa/challenges/email-otp';

/** The challenge modules the suite ships; CHALLENGE_METHODS enables a subset at run time. */
export const BUILTIN_CHALLENGES: readonly ChallengePlugin[] = [EmailOtpModule.plugin];
