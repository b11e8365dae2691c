import type { AuthorizationRequest } from '@fpa/authz-request';
import type { Client } from '@fpa/clients';
import type { RequestInfo } from '@fpa/oauth-core';
import type { OAuthError } from '@fpa/oauth-core';
import type { DeviceSession } from '@fpa/session';
import type { ClaimResult, SingleUseClaim } from '@fpa/store';
import type { ChallengeInput } from '../http/challenge-request';

/** Who is calling, bound to which key (request-scoped; what a binding establishes). */
export interface Caller {
  readonly client: Client;
  readonly session: DeviceSession;
  /**
   * `public`: a session created at the endpoint; `device`: a registered device's session; `browser`:
   * the hosted login; `federated`: the end user's app carrying a request a federating client pushed
   * (FED-11) — not a first-party caller (FED-16).
   */
  readonly mode: CallerMode;
  /**
   * What every request of the flow proves: the RFC 7638 thumbprint of the DPoP key (FIPA-26/33),
   * or, for the browser, the hash of the login cookie.
   */
  readonly jkt: string;
  /**
   * Single-use values of the request (the DPoP proof's `jti`) the binding leaves to the loop: it
   * claims them in its first store round trip, with the rate limits and the flow read, before
   * anything of the request happens (issue 13).
   */
  readonly claims?: readonly SingleUseValue[];
  /** A request validated before the loop (the browser endpoint's, a pushed one): the flow starts with it. */
  readonly startWith?: AuthorizationRequest;
  /** The session was created by this very request. */
  readonly created: boolean;
  /**
   * A session created by this request is stored only once its request proved valid (no orphan
   * rows from malformed first requests); until then errors carry no `auth_session`.
   */
  readonly pending?: PendingSession;
  /**
   * FED-14: this server's app completes a `redirect_to_app` handoff — the code goes to the
   * federating client's session (`authSession`), the answer names `nativeCallbackUri`.
   */
  readonly handoff?: FlowHandoff;
}

/** A value to claim once, and the refusal when its claim fails (`DpopService.replayCompanion`). */
export interface SingleUseValue {
  readonly claim: SingleUseClaim;
  readonly refuse: (result: Exclude<ClaimResult, 'claimed'>) => OAuthError;
}

export type CallerMode = 'public' | 'device' | 'browser' | 'federated';

export interface FlowHandoff {
  /** The federated session (kind `federated`, the federating client's) the code is issued for. */
  readonly authSession: string;
  readonly nativeCallbackUri: string;
}

export interface PendingSession {
  readonly persisted: boolean;
  /** Stores the session (idempotent). */
  persist(): Promise<void>;
  /**
   * Removes a session this request stored, when the request is refused after all (its id was never
   * disclosed: nothing else can refer to it). Idempotent; does nothing when it was not stored.
   */
  discard(): Promise<void>;
}

/**
 * How a caller proves who it is (STYLE.md: caller bindings are plug-ins). The native endpoint has
 * two — a first-party public client with a DPoP proof, and a registered device with its DPoP-bound
 * access token; the browser login adds a cookie + CSRF binding. A binding claims every single-use
 * value of the request (the proof's `jti`) before it returns, or hands it to the loop in `Caller.claims`
 * (claimed before the loop does anything else with the request).
 */
export interface CallerBinding {
  readonly name: string;
  /** Does this request use this binding (e.g. `Authorization: DPoP`)? Asked in order; the first yes takes it. */
  applies(request: RequestInfo, input: ChallengeInput): boolean | Promise<boolean>;
  bind(input: ChallengeInput, request: RequestInfo): Promise<Caller>;
}

export const CALLER_BINDINGS = Symbol('CALLER_BINDINGS');
