import type { AuthorizationDetail } from '@fpa/authz-request';
import type { ChallengeStatus, JsonObject } from '@fpa/challenge-kit';

/**
 * What the loop returns (STYLE.md: the second union). Each binding has one renderer that maps
 * every kind to the wire through a `Record<EndpointOutcome['kind'], …>` checked with `satisfies`:
 * a new kind without a rendering does not build. Federation adds `insufficient_information`,
 * `federate` and `redirect_to_app` here, as routing decisions.
 */
export type EndpointOutcome =
  /**
   * FIPA-15/16: the collected information suffices. FED-14: when this server's app completed a
   * `redirect_to_app` handoff, the code is the federating client's and `nativeCallbackUri` says where
   * the app hands it back (`<native_callback_uri>?authorization_code=…`).
   */
  | { readonly kind: 'code'; readonly authSession: string; readonly authorizationCode: string; readonly nativeCallbackUri?: string }
  /** FIPA-19: more is needed — the challenge in progress (if any), its status and the methods still open. */
  | {
      readonly kind: 'need_more';
      readonly authSession: string;
      readonly status: ChallengeStatus;
      /** The challenge's own members (the method's reply, `challenge_type`, `expires_in`, …). */
      readonly challenge: JsonObject;
      readonly methods: readonly string[];
      /** Methods the identified user could add a credential of to meet the request (the browser offers to; FiPA's JSON does not carry it). */
      readonly enrollable?: readonly string[];
      /** Locked out (`status: locked`): when to try again. */
      readonly retryAfterSeconds?: number;
    }
  /** Waiting for something outside the client's requests (a wallet, a downstream server): poll with auth_session. */
  | { readonly kind: 'pending'; readonly authSession: string; readonly challengeType: string; readonly reply: JsonObject; readonly expiresIn: number; readonly intervalSeconds?: number }
  /** FIPA-21: no native method can complete the request; `requestUri` only when it had a code_challenge. */
  | { readonly kind: 'redirect_to_web'; readonly authSession: string; readonly requestUri?: string; readonly expiresIn?: number }
  /**
   * The user authenticated; a client that is not first-party (or `prompt=consent`) needs their
   * approval of what it asked for before a code is issued (the browser's consent screen).
   */
  | { readonly kind: 'consent_required'; readonly authSession: string; readonly scopes: readonly string[]; readonly authorizationDetails: readonly AuthorizationDetail[] }
  /**
   * FED-8: this server's own app does the user interaction — `deepLink` launches it with a
   * single-use handoff reference (`client_id` + `request_uri`); this flow has ended.
   */
  | { readonly kind: 'redirect_to_app'; readonly authSession: string; readonly deepLink: string; readonly expiresIn: number }
  /**
   * FED-6/FED-7: routing needs non-authentication input (which bank, an e-mail address) to decide
   * where the user authenticates. `userPrompt` is the draft's object as sent (`options`, `inputs`
   * limited to `email` and `phone`), built from the client's routing policy.
   */
  | { readonly kind: 'insufficient_information'; readonly authSession: string; readonly userPrompt: UserPrompt; readonly logo?: string }
  /**
   * FED-5/FED-10: continue at a downstream server's native endpoint with `federationBody` (its
   * `client_id` + the `request_uri` of the PAR we made there), then post its result to `responseUri`.
   */
  | { readonly kind: 'federate'; readonly authSession: string; readonly federationUri: string; readonly federationBody: string; readonly responseUri: string };

/** FED-6: a select list of the user prompt (`values` → {name, logo}). */
export interface PromptOption {
  readonly title: string;
  readonly description?: string;
  readonly values: Readonly<Record<string, { readonly name: string; readonly logo?: string }>>;
}

/** FED-6/FED-7: a free-text field; only `email` and `phone` are ever asked for. */
export interface PromptInput {
  readonly title: string;
  readonly hint?: string;
  readonly description?: string;
}

export interface UserPrompt {
  readonly options?: Readonly<Record<string, PromptOption>>;
  readonly inputs?: Readonly<Partial<Record<'email' | 'phone', PromptInput>>>;
}

export type OutcomeKind = EndpointOutcome['kind'];
