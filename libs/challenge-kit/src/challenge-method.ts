import type { Type } from '@nestjs/common';
import type { NewCredential } from '@fpa/users';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** What a method may know about the session it is asked to challenge. Read-only, no secrets. */
export interface AuthSessionView {
  readonly authSession: string;
  readonly clientId: string;
  /** `public`: created at the endpoint for a first-party client; `device`: a registered device's session. */
  readonly mode: 'public' | 'device';
  /** The user already attached to the session (an earlier method verified them). */
  readonly user: { readonly id: string; readonly email: string | null; readonly phone: string | null } | undefined;
  /** Methods verified in this session (newest first), within the request's max_age. */
  readonly verifiedMethods: readonly string[];
  /** OIDC `login_hint` (or the `email` / `phone` a device sent, seed 004). */
  readonly loginHint: string | undefined;
}

/** Who a successful step proved: a verified email or phone (found or created by the core), or a known user. */
export type Subject = { readonly type: 'email'; readonly value: string } | { readonly type: 'phone'; readonly value: string } | { readonly type: 'user'; readonly id: string };

/** A message the core delivers for the method, after its per-destination throttle. */
export interface Delivery {
  readonly channel: 'email' | 'sms';
  /** Normalised address; the throttle key. */
  readonly to: string;
  readonly subject?: string;
  readonly text: string;
}

/** A change to the user's enrolled credentials, persisted by the core when the step verifies. */
export type CredentialChange =
  | { readonly action: 'add'; readonly credential: NewCredential }
  /** `counter` must move forward (TOTP step, WebAuthn sign count): a second use of the same value is refused. */
  | { readonly action: 'use'; readonly method: string; readonly credentialId: string; readonly counter?: number };

export type ChallengeStep<S extends Json = Json> =
  /** More is needed: the core stores `state` (never shown to the client) and answers 403 with `reply`. */
  | {
      readonly kind: 'prompt';
      readonly state: S;
      readonly reply: JsonObject;
      readonly expiresInSeconds: number;
      readonly delivery?: Delivery;
    }
  /** The answer was wrong or late; the core counts the attempt. `invalid_input`: malformed, not counted. */
  | { readonly kind: 'rejected'; readonly reason: 'invalid_code' | 'expired' | 'invalid_input'; readonly description?: string }
  | {
      readonly kind: 'verified';
      readonly subject: Subject;
      /** RFC 8176 values this authentication proved. */
      readonly amr: readonly string[];
      /** What was verified (an email address, a phone number), recorded with the authentication. */
      readonly verifiedValue?: string;
      /**
       * `add` makes the step an enrolment: the credential is stored for the (already verified) user,
       * but nothing is authenticated by it — enrolling a key created in this very session proves no
       * more than the factor that allowed the enrolment. `use` records an authentication with it.
       */
      readonly credential?: CredentialChange;
    };

export type ChallengeParams = Readonly<Record<string, Json | undefined>>;

/**
 * A user-authentication method (STYLE.md plug-in shape). Methods are stateless singletons: they
 * compute; the orchestrator alone stores flow state, counts attempts, delivers messages,
 * rate-limits and enforces the DPoP binding.
 */
export interface ChallengeMethod<S extends Json = Json> {
  /** Wire name (`challenge_type`), e.g. `email_otp`. */
  readonly id: string;
  /** RFC 8176 values a success yields (the policy reads them to describe what the method proves). */
  readonly amr: readonly string[];
  /** Request parameters the method reads besides `challenge_type` and `auth_session` (OpenAPI, SDK hints). */
  readonly parameters: readonly string[];
  /**
   * `status` values its prompts may put in the reply beyond the documented ones (CHALLENGE_STATUSES):
   * the OpenAPI document enumerates them, and the contract suite refuses an undeclared status.
   */
  readonly statuses?: readonly string[];
  /**
   * Can this method authenticate the session now (it is then offered in `methods`)? E.g. TOTP needs
   * a user with an enrolled app. Requests with an `action` (enrol, register, resend) skip this check;
   * `begin` judges them and answers `invalid_input` when they do not fit.
   */
  appliesTo(session: AuthSessionView): Promise<boolean>;
  begin(session: AuthSessionView, params: ChallengeParams): Promise<ChallengeStep<S>>;
  answer(session: AuthSessionView, state: S, params: ChallengeParams): Promise<ChallengeStep<S>>;
}

/** How a module registers: `ChallengeModule.forRoot({ methods: [EmailOtpModule.plugin, …] })`. */
export interface ChallengePlugin {
  readonly id: string;
  /** The Nest module that provides `method`. */
  readonly module: Type;
  readonly method: Type<ChallengeMethod>;
}

export const CHALLENGE_METHODS = Symbol('CHALLENGE_METHODS');
export type ChallengeRegistry = ReadonlyMap<string, ChallengeMethod>;
