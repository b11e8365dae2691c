import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, type Clock } from '@fpa/oauth-core';
import { OtpService, type AuthSessionView, type ChallengeMethod, type ChallengeParams, type ChallengeStep, type HashedOtp } from '@fpa/challenge-kit';
import { maskPhone, normalizePhone } from '@fpa/users';

/** Flow state of an SMS challenge: the E.164 number the code went to and its keyed hash — never the code. */
export type SmsOtpState = { readonly phone: string } & HashedOtp;

/**
 * `sms_otp`: a one-time code sent by SMS through the core's SmsSender (HTTP provider adapter); a
 * correct answer verifies the number, which finds or creates the user (issue 3). RFC 8176 §2:
 * `sms` (confirmation by SMS to a registered number) and `otp`.
 */
@Injectable()
export class SmsOtpChallenge implements ChallengeMethod<SmsOtpState> {
  readonly id = 'sms_otp';
  readonly amr = ['sms', 'otp'] as const;
  readonly parameters = ['phone', 'login_hint', 'code'] as const;

  constructor(
    private readonly otp: OtpService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async appliesTo(): Promise<boolean> {
    return true;
  }

  async begin(session: AuthSessionView, params: ChallengeParams): Promise<ChallengeStep<SmsOtpState>> {
    const given = typeof params.phone === 'string' ? params.phone : (session.loginHint ?? session.user?.phone ?? undefined);
    // E.164 only: the normalised number is the throttle key and the verified value.
    const phone = given === undefined ? undefined : normalizePhone(given);
    if (!phone) return { kind: 'rejected', reason: 'invalid_input', description: 'sms_otp needs a phone number in E.164 form (or login_hint)' };
    const { code, hashed } = this.otp.issue(this.clock.nowMs());
    const minutes = Math.round(this.otp.ttlSeconds / 60);
    return {
      kind: 'prompt',
      state: { phone, ...hashed },
      reply: { status: 'code_sent', destination: maskPhone(phone), code_length: this.otp.length },
      expiresInSeconds: this.otp.ttlSeconds,
      // Short and plain: one SMS segment, no link a phisher could imitate.
      delivery: { channel: 'sms', to: phone, text: `Your sign-in code is ${code}. It expires in ${minutes} minute${minutes === 1 ? '' : 's'}.` },
    };
  }

  async answer(_session: AuthSessionView, state: SmsOtpState, params: ChallengeParams): Promise<ChallengeStep<SmsOtpState>> {
    if (typeof params.code !== 'string') return { kind: 'rejected', reason: 'invalid_input', description: 'code is required' };
    const result = this.otp.check(state, params.code, this.clock.nowMs());
    if (result === 'expired') return { kind: 'rejected', reason: 'expired' };
    if (result === 'invalid') return { kind: 'rejected', reason: 'invalid_code' };
    return { kind: 'verified', subject: { type: 'phone', value: state.phone }, amr: this.amr, verifiedValue: state.phone };
  }
}
