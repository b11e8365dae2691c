import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, type Clock } from '@fpa/oauth-core';
import { OtpService, type AuthSessionView, type ChallengeMethod, type ChallengeParams, type ChallengeStep, type HashedOtp } from '@fpa/challenge-kit';
import { maskEmail, normalizeEmail } from '@fpa/users';

/** Flow state of an email challenge: where the code went and its keyed hash — never the code. */
export type EmailOtpState = { readonly email: string } & HashedOtp;

/**
 * `email_otp`: a one-time code sent by email; a correct answer verifies the address, which finds
 * or creates the user (issue 3). RFC 8176 `otp`, plus `email` to say which channel.
 */
@Injectable()
export class EmailOtpChallenge implements ChallengeMethod<EmailOtpState> {
  readonly id = 'email_otp';
  readonly amr = ['otp', 'email'] as const;
  readonly parameters = ['email', 'login_hint', 'code'] as const;

  constructor(
    private readonly otp: OtpService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async appliesTo(): Promise<boolean> {
    return true;
  }

  async begin(session: AuthSessionView, params: ChallengeParams): Promise<ChallengeStep<EmailOtpState>> {
    const given = typeof params.email === 'string' ? params.email : (session.loginHint ?? session.user?.email ?? undefined);
    const email = given === undefined ? undefined : normalizeEmail(given);
    if (!email) return { kind: 'rejected', reason: 'invalid_input', description: 'email_otp needs a valid email (or login_hint)' };
    const { code, hashed } = this.otp.issue(this.clock.nowMs());
    const minutes = Math.round(this.otp.ttlSeconds / 60);
    return {
      kind: 'prompt',
      state: { email, ...hashed },
      reply: { status: 'code_sent', destination: maskEmail(email), code_length: this.otp.length },
      expiresInSeconds: this.otp.ttlSeconds,
      delivery: {
        channel: 'email',
        to: email,
        subject: 'Your sign-in code',
        text: `Your sign-in code is ${code}. It expires in ${minutes} minute${minutes === 1 ? '' : 's'}. If you did not ask for it, ignore this email.`,
      },
    };
  }

  async answer(_session: AuthSessionView, state: EmailOtpState, params: ChallengeParams): Promise<ChallengeStep<EmailOtpState>> {
    if (typeof params.code !== 'string') return { kind: 'rejected', reason: 'invalid_input', description: 'code is required' };
    const result = this.otp.check(state, params.code, this.clock.nowMs());
    if (result === 'expired') return { kind: 'rejected', reason: 'expired' };
    if (result === 'invalid') return { kind: 'rejected', reason: 'invalid_code' };
    return { kind: 'verified', subject: { type: 'email', value: state.email }, amr: this.amr, verifiedValue: state.email };
  }
}
