import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, type Clock } from '@fpa/oauth-core';
import { OtpService, minutesText, otpAnswer, otpPrompt, type AuthSessionView, type ChallengeMethod, type ChallengeParams, type ChallengeStep, type OtpChannel, type OtpState } from '@fpa/challenge-kit';
import { maskPhone, normalizePhone } from '@fpa/users';

const SMS: OtpChannel = {
  channel: 'sms',
  subject: 'phone',
  mask: maskPhone,
  // Short and plain: one SMS segment, no link a phisher could imitate.
  message: (code, minutes) => ({ text: `Your sign-in code is ${code}. It expires in ${minutesText(minutes)}.` }),
};

/**
 * `sms_otp`: a one-time code sent by SMS through the core's SmsSender (HTTP provider adapter); a
 * correct answer verifies the number, which finds or creates the user (issue 3). RFC 8176 §2:
 * `sms` (confirmation by SMS to a registered number) and `otp`.
 */
@Injectable()
export class SmsOtpChallenge implements ChallengeMethod<OtpState> {
  readonly id = 'sms_otp';
  readonly amr = ['sms', 'otp'] as const;
  /** A success verifies the number (the `…:phone` acr). */
  readonly assurance = { verifies: 'phone' } as const;
  readonly parameters = ['phone', 'login_hint', 'code'] as const;

  constructor(
    private readonly otp: OtpService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async appliesTo(): Promise<boolean> {
    return true;
  }

  async begin(session: AuthSessionView, params: ChallengeParams): Promise<ChallengeStep<OtpState>> {
    const given = typeof params.phone === 'string' ? params.phone : (session.loginHint ?? session.user?.phone ?? undefined);
    // E.164 only: the normalised number is the throttle key and the verified value.
    const phone = given === undefined ? undefined : normalizePhone(given);
    if (!phone) return { kind: 'rejected', reason: 'invalid_input', description: 'sms_otp needs a phone number in E.164 form (or login_hint)' };
    return otpPrompt(this.otp, this.clock.nowMs(), phone, SMS);
  }

  async answer(_session: AuthSessionView, state: OtpState, params: ChallengeParams): Promise<ChallengeStep<OtpState>> {
    return otpAnswer(this.otp, this.clock.nowMs(), state, params, 'phone', this.amr);
  }
}
