import type { Type } from '@nestjs/common';
import type { NewCredential } from '@fpa/users';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** What a method may know about the session it is asked to challenge. Read-only, no secrets. */
export interface AuthSessionView {
  readonly authSession: string;
  readonly clientId: string;
  /** `public`: created at the endpoint for a first-party client; `device`: a registered device's session; `browser`: the hosted login page. */
  /** `federated`: the end user's app carrying a federating client's pushed request (FED-11, not first-party). */
  readonly mode: 'public' | 'device' | 'browser' | 'federated';
  /** The user this flow (or, on a device, an earlier flow of the session) identified. */
  readonly user: { readonly id: string; readonly email: string | null; readonly phone: string | null } | undefined;
  /** Methods that authenticated the user in this session and count for this request (max_age), newest first. */
  readonly verifiedMethods: readonly string[];
  /** OIDC `login_hint` (or the `email` / `phone` a device sent, seed 004). */
  readonly loginHint: string | undefined;
  /** The request's `acr_values` as sent (space-separated), when it named any. */
  readonly acrValues?: string | undefined;
  /** RFC 9396 `authorization_details` of the request (validated), e.g. to show them for approval (WALLET-3). */
  readonly authorizationDetails?: readonly JsonObject[] | undefined;
}

/** Who a successful step proved: a verified email or phone (found or created by the core), or a known user. */
export type Subject = { readonly type: 'email'; readonly value: string } | { readonly type: 'phone'; readonly value: string } | { readonly type: 'user'; readonly id: string };

/** A message the core delivers for the method, after its per-destination throttle and send budgets. */
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

/**
 * What a plug-in returns from `begin`, `answer` and `resume` (STYLE.md: the first of two unions;
 * the loop turns it into an `EndpointOutcome`).
 */
export type InteractionStep<S extends Json = Json> =
  /** More is needed: the core stores `state` (never shown to the client) and answers 403 with `reply`. */
  | {
      readonly kind: 'prompt';
      readonly state: S;
      readonly reply: JsonObject;
      readonly expiresInSeconds: number;
      readonly delivery?: Delivery;
      /**
       * The secret this challenge checks, as a stable key (`email:<address>`, `totp:<user id>`):
       * the core counts wrong answers against it in PostgreSQL across flows and locks it out with
       * backoff (issue 7 finding 2). Omit only when an answer cannot be guessed.
       */
      readonly guard?: string;
    }
  /**
   * Waiting for something outside this request (a wallet's `direct_post`, a downstream server's
   * callback) that reaches the flow through `resume`; the client polls with `auth_session`.
   */
  | { readonly kind: 'pending'; readonly state: S; readonly reply: JsonObject; readonly expiresInSeconds: number; readonly intervalSeconds?: number }
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
       * The authenticator verified the user itself (WebAuthn UV: a PIN or a biometric with the key),
       * so this one event is two factors. Only for methods whose `assurance.multiFactorCapable` is set.
       */
      readonly userVerified?: boolean;
      /**
       * `add` makes the step an enrolment: the core checks the enrolment policy and stores the
       * credential; nothing is authenticated by it. `use` records an authentication with it.
       */
      readonly credential?: CredentialChange;
    };

/** The name modules used before the loop grew `pending`; the same union. */
export type ChallengeStep<S extends Json = Json> = InteractionStep<S>;

export type ChallengeParams = Readonly<Record<string, Json | undefined>>;

/**
 * What a success of the method proves, read by the core's one assurance function (README,
 * "Assurance"): acr rules are written over these properties, not over method names, so a new
 * module takes part in `…:mfa` or `…:phr` by declaring what it proves, in this one place.
 */
export interface MethodAssurance {
  /** Independence class: two events of one class count as one factor. Default: the method id. */
  readonly factor?: string;
  /** Resists phishing (origin-bound, like WebAuthn). */
  readonly phishingResistant?: boolean;
  /** Its authenticator can verify the user itself (`userVerified` on the step counts as a second factor). */
  readonly multiFactorCapable?: boolean;
  /** The identifier a success verifies (the `…:email` / `…:phone` acrs). */
  readonly verifies?: 'email' | 'phone';
  /**
   * The `action` that enrols a credential (`register`, `enroll`): the core applies the enrolment
   * policy (a fresh factor at least as strong as the user's strongest) before `begin` sees it,
   * and `action=recover` is translated into it for the recovery path.
   */
  readonly enrolAction?: string;
}

/**
 * A user-authentication method (STYLE.md plug-in shape). Methods are stateless singletons: they
 * compute; the loop alone stores flow state, counts attempts, delivers messages, rate-limits,
 * enforces the DPoP binding and decides what the authentications add up to.
 */
export interface ChallengeMethod<S extends Json = Json> {
  /** Wire name (`challenge_type`), e.g. `email_otp`. */
  readonly id: string;
  /** RFC 8176 values a success yields. */
  readonly amr: readonly string[];
  /** What a success proves (see MethodAssurance). */
  readonly assurance?: MethodAssurance;
  /** Request parameters the method reads besides `challenge_type` and `auth_session` (OpenAPI, SDK hints). */
  readonly parameters: readonly string[];
  /**
   * Parameters that answer this method's challenge in progress — even while it is `pending`
   * (a wallet's `vp_token`, a `response_code`). `code` and `credential` always answer; a request
   * carrying one of these with no challenge in progress is refused like a code used again.
   */
  readonly answers?: readonly string[];
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
  begin(session: AuthSessionView, params: ChallengeParams): Promise<InteractionStep<S>>;
  answer(session: AuthSessionView, state: S, params: ChallengeParams): Promise<InteractionStep<S>>;
  /**
   * Something outside the client's requests (a callback, a wallet's post) concerning the challenge
   * in progress; only methods that answer `pending` implement it. The loop calls it under the same
   * compare-and-set as answers.
   */
  resume?(session: AuthSessionView, state: S, payload: JsonObject): Promise<InteractionStep<S>>;
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
