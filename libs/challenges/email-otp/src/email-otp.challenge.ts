import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, type Clock } from '@fpa/oauth-core';
import { OtpService, minutesText, otpAnswer, otpPrompt, type AuthSessionView, type ChallengeMethod, type ChallengeParams, type ChallengeStep, type OtpChannel, type OtpState } from '@fpa/challenge-kit';
import { maskEmail, normalizeEmail } from '@fpa/users';

const EMAIL: OtpChannel = {
  channel: 'email',
  subject: 'email',
  mask: maskEmail,
  message: (code, minutes) => ({
    subject: 'Your sign-in code',
    text: `Your sign-in code is ${code}. It expires in ${minutesText(minutes)}. If you did not ask for it, ignore this email.`,
  }),
};

/**
 * `email_otp`: a one-time code sent by email; a correct answer verifies the address, which finds
 * or creates the user (issue 3). RFC 8176 `otp`, plus `email` to say which channel.
 */
@Injectable()
export class EmailOtpChallenge implements ChallengeMethod<OtpState> {
  readonly id = 'email_otp';
  readonly amr = ['otp', 'email'] as const;
  /** A success verifies the address (the `…:email` acr). */
  readonly assurance = { verifies: 'email' } as const;
  readonly parameters = ['email', 'login_hint', 'code'] as const;

  constructor(
    private readonly otp: OtpService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async appliesTo(): Promise<boolean> {
    return true;
  }

  async begin(session: AuthSessionView, params: ChallengeParams): Promise<ChallengeStep<OtpState>> {
    const given = typeof params.email === 'string' ? params.email : (session.loginHint ?? session.user?.email ?? undefined);
    const email = given === undefined ? undefined : normalizeEmail(given);
    if (!email) return { kind: 'rejected', reason: 'invalid_input', description: 'email_otp needs a valid email (or login_hint)' };
    return otpPrompt(this.otp, this.clock.nowMs(), email, EMAIL);
  }

  async answer(_session: AuthSessionView, state: OtpState, params: ChallengeParams): Promise<ChallengeStep<OtpState>> {
    return otpAnswer(this.otp, this.clock.nowMs(), state, params, 'email', this.amr);
  }
}
