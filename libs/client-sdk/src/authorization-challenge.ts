import type { PopTokenOptions } from './first-party-client';
/**
 * Types of the authorization challenge loop (`FirstPartyClient.authorize`, FiPA -04 §5, CONTRACT §5).
 * The server's shapes are in its OpenAPI document (GET <issuer>/openapi.json).
 */

/** A 403 `insufficient_authorization` body: what the server wants collected next. */
export interface AuthorizationChallenge {
  readonly error: 'insufficient_authorization';
  readonly auth_session: string;
  /** e.g. `code_sent`, `invalid_code`, `attempts_exceeded`, `expired`, `method_required`, `additional_method_required`, `enrolled`, or a module's own. */
  readonly status: string;
  /** Methods (`challenge_type` values) that could still complete the request. */
  readonly methods: readonly string[];
  readonly challenge_type?: string;
  /** Masked address or number a code went to. */
  readonly destination?: string;
  readonly expires_in?: number;
  readonly code_length?: number;
  readonly attempts_remaining?: number;
  /** With `additional_method_required` or `enrolled`: the method that just completed. */
  readonly completed?: string;
  /** Module-specific members (TOTP enrolment's `otpauth_uri`, passkey `public_key_credential_request_options`, …). */
  readonly [member: string]: unknown;
}

/**
 * What the app sends next, without `auth_session` (the SDK adds it): `{ code }`, `{ credential }`,
 * or `{ challenge_type, … }` to begin another method. Strings travel form-encoded; an answer with
 * any non-string value (a WebAuthn `credential` object) is sent as JSON.
 */
export type ChallengeAnswer = Readonly<Record<string, unknown>>;

export interface AuthorizeOptions {
  /**
   * `public`: a first-party public client; the first request (with `client_id`, `response_type=code`
   * and an S256 `code_challenge` generated here) creates an `auth_session` bound to the DPoP key.
   * `device`: this registered device, with `Authorization: DPoP <its access token>` and a proof with
   * `ath`; the user authentication attaches to the device's session.
   * Default: `device` when this client registered a device and holds an access token, else `public`.
   */
  readonly mode?: 'public' | 'device';
  readonly scope?: string;
  /** Space-separated, in preference order (e.g. from a resource server's step-up challenge). */
  readonly acrValues?: string;
  readonly maxAge?: number;
  readonly loginHint?: string;
  /** RFC 8707 resource indicator. */
  readonly resource?: string;
  /**
   * Seed 001 (A)–(D): redeem the code for a PoP token for this resource server (its `audience` is sent
   * as `resource` in the authorization request, so the grant is for it); see `PopTokenOptions`.
   */
  readonly pop?: PopTokenOptions;
  /** The method to begin with (else the server infers it from `email` / `phone` / `loginHint`, or asks). */
  readonly challengeType?: string;
  /** More parameters for the first request (`email`, `phone`, …). */
  readonly params?: Readonly<Record<string, unknown>>;
  /** Called with every 403 `insufficient_authorization`; resolves to the answer, or `undefined` to give up. */
  readonly onChallenge: (challenge: AuthorizationChallenge) => Promise<ChallengeAnswer | undefined>;
  /** Requests before the loop gives up (default 20). */
  readonly maxSteps?: number;
  /**
   * FED-3: this app's claimed-HTTPS deep link, through which another app (the downstream server's)
   * hands a response back. The server forwards it when it federates.
   */
  readonly nativeCallbackUri?: string;
  /**
   * FED-6: a server needs routing input (which bank, which e-mail): resolves to the answers (option
   * keys with a listed value, `email`, `phone`), or `undefined` to give up. Without it the loop
   * throws `OAuthClientError` on `insufficient_information`.
   */
  readonly onInformation?: (request: InformationRequest) => Promise<Readonly<Record<string, string | undefined>> | undefined>;
  /**
   * FED-8/FED-14: a server wants another app to handle the user. Open `deepLink` (OS mechanisms) and
   * resolve to the query parameters that app passed back on the native_callback_uri (e.g.
   * `{ authorization_code }`), or `undefined` when no app claims the link (the flow ends).
   */
  readonly onRedirectToApp?: (redirect: AppRedirect) => Promise<Readonly<Record<string, string>> | undefined>;
}

/** FED-6 `userPrompt`: select lists (`options`) and free-text `inputs` (only `email` and `phone`, FED-7). */
export interface UserPrompt {
  readonly options?: Readonly<Record<string, { readonly title?: string; readonly description?: string; readonly values: Readonly<Record<string, { readonly name: string; readonly logo?: string }>> }>>;
  readonly inputs?: Readonly<Record<string, { readonly title?: string; readonly hint?: string; readonly description?: string }>>;
}

/** A 400 `insufficient_information` (FED-6), with the server that asked. */
export interface InformationRequest {
  readonly server: string;
  readonly authSession: string;
  /** Free-text inputs other than `email` and `phone` are dropped here (FED-7: clients ignore them). */
  readonly userPrompt: UserPrompt;
  readonly logo?: string;
}

/** A 400 `redirect_to_app` (FED-8). */
export interface AppRedirect {
  readonly server: string;
  readonly deepLink: string;
}
