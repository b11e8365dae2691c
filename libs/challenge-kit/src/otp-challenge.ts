import type { ChallengeParams, ChallengeStep, Subject } from './challenge-method';
import type { HashedOtp, OtpService } from './otp.service';

/** Flow state of a one-time-code challenge: where the code went and its keyed hash — never the code. */
export type OtpState = { readonly to: string } & HashedOtp;

export interface OtpChannel {
  readonly channel: 'email' | 'sms';
  /** What the verified destination proves: an email address or a phone number. */
  readonly subject: 'email' | 'phone';
  /** What the user sees of the destination in the reply. */
  mask(to: string): string;
  message(code: string, minutes: number): { readonly subject?: string; readonly text: string };
}

/**
 * The shared mechanics of the email and SMS modules: issue a code, prompt with a masked
 * destination and let the core deliver it; check an answer in constant time. Modules supply the
 * destination (already normalised) and the channel's wording.
 */
export function otpPrompt(otp: OtpService, nowMs: number, to: string, c: OtpChannel): ChallengeStep<OtpState> {
  const { code, hashed } = otp.issue(nowMs);
  const minutes = Math.round(otp.ttlSeconds / 60);
  return {
    kind: 'prompt',
    state: { to, ...hashed },
    reply: { status: 'code_sent', destination: c.mask(to), code_length: otp.length },
    expiresInSeconds: otp.ttlSeconds,
    delivery: { channel: c.channel, to, ...c.message(code, minutes) },
    // Issue 7 finding 2: wrong codes count per destination across flows and sessions.
    guard: `${c.channel}:${to}`,
  };
}

export function otpAnswer(otp: OtpService, nowMs: number, state: OtpState, params: ChallengeParams, subject: OtpChannel['subject'], amr: readonly string[]): ChallengeStep<OtpState> {
  if (typeof params.code !== 'string') return { kind: 'rejected', reason: 'invalid_input', description: 'code is required' };
  // Malformed (not 4–10 digits) is not an attempt: it is refused before anything is compared.
  if (!/^\d{4,10}$/.test(params.code.trim())) return { kind: 'rejected', reason: 'invalid_input', description: `code must be ${otp.length} digits` };
  const result = otp.check(state, params.code, nowMs);
  if (result === 'expired') return { kind: 'rejected', reason: 'expired' };
  if (result === 'invalid') return { kind: 'rejected', reason: 'invalid_code' };
  const verified: Subject = subject === 'email' ? { type: 'email', value: state.to } : { type: 'phone', value: state.to };
  return { kind: 'verified', subject: verified, amr, verifiedValue: state.to };
}

/** "1 minute" / "5 minutes" */
export function minutesText(minutes: number): string {
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}
