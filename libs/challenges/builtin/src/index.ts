import type { ChallengePlugin } from '@fpa/challenge-kit';
import { EmailOtpModule } from '@fpa/challenges/email-otp';
// builtin:imports (one line per module; keep this marker)

/** The challenge modules the suite ships; CHALLENGE_METHODS enables a subset at run time. */
export const BUILTIN_CHALLENGES: readonly ChallengePlugin[] = [
  EmailOtpModule.plugin,
  // builtin:plugins (one line per module; keep this marker)
];
