import type { AuthorizationRequest } from '@fpa/authz-request';
import type { Json, JsonObject } from '@fpa/challenge-kit';
import type { CallerMode, FlowHandoff } from '../bindings/caller';

/** The flow's authorization request (validated once, the same model as the browser endpoint's and PAR's). */
export type FlowRequest = AuthorizationRequest;

/** One challenge in progress: the method's opaque state, attempts so far, expiry (epoch ms). */
export interface ActiveChallenge {
  readonly method: string;
  readonly state: Json;
  readonly attempts: number;
  readonly expiresAt: number;
  /** The secret it checks (the prompt's `guard`): wrong answers are also counted there, across flows. */
  readonly guard?: string;
  /** `pending`: waiting for `resume`; the client polls. */
  readonly pending?: { readonly reply: JsonObject; readonly intervalSeconds?: number };
  /** An enrolment (`action=register|enroll`), or one through the recovery path (`action=recover`). */
  readonly enrolment?: 'authentication' | 'recovery';
  /**
   * A success reported from outside (`resume` with a deferred decision) is being recorded: the
   * challenge is already consumed (nothing may answer it), but a poll still hears `pending` until
   * the authentication is stored — never `method_required` in between (WALLET-2).
   */
  readonly settling?: true;
}

/**
 * Everything the loop keeps about one authorization request (a flow), in Redis under the
 * auth_session, versioned and written with compare-and-set. Never returned to the client.
 */
export interface FlowState {
  /** Random per authorization request: "a later, separate authentication" is another flow. */
  readonly flowId: string;
  readonly authSession: string;
  readonly clientId: string;
  readonly mode: CallerMode;
  /**
   * FIPA-26/33: every request of the flow must prove this DPoP key (the browser: its login cookie's
   * hash). The code is bound to it too, except for a browser or federated flow, whose code is bound
   * to the key its request named (RFC 9449 §10: the federating client's `dpop_jkt`).
   */
  readonly dpopJkt: string;
  /** FED-14: a redirect_to_app handoff this flow completes (this server's app, for a federating client). */
  readonly handoff?: FlowHandoff;
  readonly request: FlowRequest;
  readonly active: ActiveChallenge | undefined;
  /** The user approved this client's request on the consent screen (browser, clients that are not first-party). */
  readonly consented?: boolean;
  /** What routing rules keep about the flow (FED-6 answers, the federation in progress); absent when no rule spoke. */
  readonly routing?: RoutingState;
  readonly createdAt: number;
}

/**
 * Routing's part of the flow, small and opaque to the loop: the user's answers to
 * `insufficient_information` (FED-6, normalised values only), the decision once taken, and the
 * federation in progress as its rule stores it (sealed; never returned to the client).
 */
export interface RoutingState {
  readonly answers?: Readonly<Record<string, string>>;
  /** `local`: today's challenge methods authenticate; routing is not asked again in this flow. */
  readonly decided?: 'local';
  readonly federation?: JsonObject;
}

/** Thrown when another request changed the flow first; the loop re-reads and decides again. */
export class FlowConflict extends Error {
  constructor() {
    super('the challenge flow changed concurrently');
  }
}
