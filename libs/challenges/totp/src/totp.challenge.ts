import { Inject, Injectable } from '@nestjs/common';
import { generateSecret, generateURI, verify } from 'otplib';
import { SecretBox, type AuthSessionView, type ChallengeMethod, type ChallengeParams, type ChallengeStep } from '@fpa/challenge-kit';
import { randomToken } from '@fpa/crypto';
import { CLOCK, type Clock } from '@fpa/oauth-core';
import { UsersService, type StoredCredential } from '@fpa/users';

/** The `issuer` of the otpauth:// URI: the name authenticator apps show next to the account. */
export const TOTP_ISSUER = 'first-party-auth';

/** What this module enrols: the parameters every common authenticator app understands (RFC 6238 §4, Google Authenticator). */
export const TOTP_DEFAULTS = { digits: 6, period: 30, algorithm: 'sha1' } as const;

type TotpAlgorithm = 'sha1' | 'sha256' | 'sha512';

/** How long a `code_required` prompt stays open. */
export const TOTP_PROMPT_SECONDS = 120;
/** Enrolment takes longer: the user installs or opens an app and scans the URI. */
export const TOTP_ENROLMENT_SECONDS = 300;
/** RFC 4226 §4 R6 asks for at least 128 bits; 160 bits is the HMAC-SHA1 block the RFC recommends. */
const SECRET_BYTES = 20;

/**
 * Flow state (stored by the core in Redis). Authentication names the user and the credentials
 * offered; enrolment carries the new seed sealed with SecretBox (bound to the auth_session) —
 * never the seed in the clear, never a code.
 */
export type TotpState =
  | { readonly mode: 'authenticate'; readonly userId: string; readonly credentialIds: string[]; readonly expiresAt: number }
  | { readonly mode: 'enroll'; readonly userId: string; readonly sealed: string; readonly expiresAt: number };

type Step = ChallengeStep<TotpState>;

/** The one UsersService capability this method reads; a fake suffices in unit tests. */
export type TotpCredentialSource = Pick<UsersService, 'credentials'>;

/**
 * `totp`: RFC 6238 time-based codes from an authenticator app, as a second factor for a user an
 * earlier method already verified.
 *
 * - `action=enroll`: a new seed (otplib), returned once as an otpauth:// URI and base32 text; a
 *   correct code proves the app holds it, and the core stores it (encrypted at rest) as a credential
 *   whose counter starts at the accepted time step.
 * - no action: a code from an enrolled app. A match reports its time step as the credential
 *   counter; the core moves the counter forward only, so one code counts once (RFC 6238 §5.2:
 *   "the verifier MUST NOT accept the second attempt of the same OTP").
 */
@Injectable()
export class TotpChallenge implements ChallengeMethod<TotpState> {
  readonly id = 'totp';
  /** RFC 8176 §2: `otp`. (`mfa` is added by the core when the events it counts are two factors.) */
  readonly amr = ['otp'] as const;
  /** A possession factor of its own (one class, whatever the number of apps); `action=enroll` adds one. */
  readonly assurance = { enrolAction: 'enroll' } as const;
  readonly parameters = ['action', 'code'] as const;

  constructor(
    @Inject(UsersService) private readonly users: TotpCredentialSource,
    private readonly secretBox: SecretBox,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Offered when the session's user has an enrolled app; enrolment is the explicit `action=enroll`. */
  async appliesTo(session: AuthSessionView): Promise<boolean> {
    return session.user !== undefined && (await this.users.credentials(session.user.id, this.id)).length > 0;
  }

  async begin(session: AuthSessionView, params: ChallengeParams): Promise<Step> {
    const action = params.action;
    if (action === 'enroll') return this.beginEnrolment(session);
    if (action !== undefined) return invalidInput('action must be "enroll" (or absent, to authenticate with an enrolled app)');
    const user = session.user;
    if (!user) return invalidInput('totp needs a user verified by another method first');
    const credentials = await this.users.credentials(user.id, this.id);
    if (credentials.length === 0) return invalidInput('no TOTP authenticator is enrolled for this user; enrol one with action=enroll');
    return {
      kind: 'prompt',
      state: { mode: 'authenticate', userId: user.id, credentialIds: credentials.map((c) => c.credentialId), expiresAt: this.clock.nowMs() + TOTP_PROMPT_SECONDS * 1000 },
      reply: { status: 'code_required', digits: settingsOf(credentials[0]).digits },
      expiresInSeconds: TOTP_PROMPT_SECONDS,
      // Issue 7 finding 2: wrong codes count per user across flows (the core locks out with backoff).
      guard: `totp:${user.id}`,
    };
  }

  async answer(session: AuthSessionView, state: TotpState, params: ChallengeParams): Promise<Step> {
    if (typeof params.code !== 'string') return invalidInput('code is required');
    if (this.clock.nowMs() >= state.expiresAt) return { kind: 'rejected', reason: 'expired' };
    // The state belongs to the session's user; anything else is a stale or foreign state: burn it.
    if (session.user?.id !== state.userId) return { kind: 'rejected', reason: 'expired', description: 'the challenge no longer matches the session' };
    // Authenticator apps show "123 456"; accept the digits with or without spaces. Anything that
    // cannot be a code is malformed, not a guess: refused before anything is compared.
    const code = params.code.length <= 32 ? params.code.replace(/\s+/g, '') : '';
    if (!/^\d{6,8}$/.test(code)) return invalidInput('code must be the 6 to 8 digits the authenticator app shows');
    return state.mode === 'enroll' ? this.answerEnrolment(session, state, code) : this.answerAuthentication(state, code);
  }

  // --- enrolment --------------------------------------------------------------------------------

  /** The core has already applied the enrolment rule (a fresh factor at least as strong as the user's strongest). */
  private async beginEnrolment(session: AuthSessionView): Promise<Step> {
    const user = session.user;
    if (!user) return invalidInput('TOTP enrolment needs a user verified by another method first (e.g. email_otp)');
    const secret = generateSecret({ length: SECRET_BYTES });
    const { digits, period, algorithm } = TOTP_DEFAULTS;
    const otpauthUri = generateURI({ issuer: TOTP_ISSUER, label: user.email ?? user.phone ?? user.id, secret, digits, period, algorithm });
    return {
      kind: 'prompt',
      state: { mode: 'enroll', userId: user.id, sealed: await this.secretBox.seal(secret, session.authSession), expiresAt: this.clock.nowMs() + TOTP_ENROLMENT_SECONDS * 1000 },
      // The seed leaves the server exactly once, here (the response is Cache-Control: no-store).
      reply: { status: 'enrollment_started', otpauth_uri: otpauthUri, secret, digits, period },
      expiresInSeconds: TOTP_ENROLMENT_SECONDS,
    };
  }

  private async answerEnrolment(session: AuthSessionView, state: Extract<TotpState, { mode: 'enroll' }>, code: string): Promise<Step> {
    let secret: string;
    try {
      secret = await this.secretBox.open(state.sealed, session.authSession);
    } catch {
      return { kind: 'rejected', reason: 'expired', description: 'the enrolment can no longer be completed; start it again' };
    }
    const step = await this.match(secret, TOTP_DEFAULTS, code, undefined);
    if (step === undefined) return { kind: 'rejected', reason: 'invalid_code' };
    return {
      kind: 'verified',
      subject: { type: 'user', id: state.userId },
      amr: this.amr,
      credential: {
        action: 'add',
        credential: {
          method: this.id,
          credentialId: randomToken(16),
          publicData: { ...TOTP_DEFAULTS },
          secret,
          // The enrolment code is spent: authentication needs a later time step.
          counter: step,
        },
      },
    };
  }

  // --- authentication ---------------------------------------------------------------------------

  private async answerAuthentication(state: Extract<TotpState, { mode: 'authenticate' }>, code: string): Promise<Step> {
    const offered = new Set(state.credentialIds);
    const credentials = (await this.users.credentials(state.userId, this.id)).filter((c) => offered.has(c.credentialId));
    for (const credential of credentials) {
      if (credential.secret === undefined) continue;
      // RFC 6238 §5.2: a code at or before the last accepted step is a replay, even inside the window.
      const step = await this.match(credential.secret, settingsOf(credential), code, credential.counter > 0 ? credential.counter : undefined);
      if (step !== undefined) {
        return {
          kind: 'verified',
          subject: { type: 'user', id: state.userId },
          amr: this.amr,
          // The core refuses the step unless this counter moves the stored one forward (races, replays).
          credential: { action: 'use', method: this.id, credentialId: credential.credentialId, counter: step },
        };
      }
    }
    return { kind: 'rejected', reason: 'invalid_code' };
  }

  /**
   * The time step `code` belongs to, within one step either side of now (RFC 6238 §5.2: allow for
   * clock drift and the time the user takes to type), and after `afterStep`; undefined otherwise.
   */
  private async match(secret: string, settings: TotpSettings, code: string, afterStep: number | undefined): Promise<number | undefined> {
    if (!new RegExp(`^\\d{${settings.digits}}$`).test(code)) return undefined;
    const epoch = this.clock.nowSeconds();
    const lastStep = Math.floor((epoch + settings.period) / settings.period);
    // otplib refuses an afterTimeStep beyond the window; such a counter means nothing in it is acceptable.
    if (afterStep !== undefined && afterStep >= lastStep) return undefined;
    try {
      const result = await verify({ secret, token: code, epoch, epochTolerance: settings.period, ...settings, afterTimeStep: afterStep });
      return result.valid && 'timeStep' in result ? result.timeStep : undefined;
    } catch {
      // A malformed stored secret or setting: no code can match it.
      return undefined;
    }
  }
}

interface TotpSettings {
  readonly digits: number;
  readonly period: number;
  readonly algorithm: TotpAlgorithm;
}

/** The enrolled credential's parameters (public data), falling back to what this module enrols. */
function settingsOf(credential: StoredCredential | undefined): TotpSettings {
  const data = credential?.publicData ?? {};
  const digits = typeof data.digits === 'number' && [6, 7, 8].includes(data.digits) ? data.digits : TOTP_DEFAULTS.digits;
  const period = typeof data.period === 'number' && Number.isInteger(data.period) && data.period >= 15 && data.period <= 120 ? data.period : TOTP_DEFAULTS.period;
  const algorithm = data.algorithm === 'sha256' || data.algorithm === 'sha512' ? data.algorithm : TOTP_DEFAULTS.algorithm;
  return { digits, period, algorithm };
}

function invalidInput(description: string): Step {
  return { kind: 'rejected', reason: 'invalid_input', description };
}
