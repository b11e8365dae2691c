import type { Json } from './challenge-method';

/** The initial request's authorization parameters, kept for the whole flow. */
export interface FlowRequest {
  readonly scopes: readonly string[];
  readonly acrValues: string | undefined;
  readonly maxAge: number | undefined;
  readonly codeChallenge: string | undefined;
  readonly loginHint: string | undefined;
  readonly resource: string | undefined;
}

/** One challenge in progress: the method's opaque state, attempts so far, expiry (epoch ms). */
export interface ActiveChallenge {
  readonly method: string;
  readonly state: Json;
  readonly attempts: number;
  readonly expiresAt: number;
}

/**
 * Everything the orchestrator keeps about one flow, in Redis under the auth_session (versioned,
 * written with compare-and-set). Never returned to the client.
 */
export interface FlowState {
  readonly authSession: string;
  readonly clientId: string;
  readonly mode: 'public' | 'device';
  /** FIPA-26/33: every request of the flow must prove this DPoP key. */
  readonly dpopJkt: string;
  readonly request: FlowRequest;
  readonly active: ActiveChallenge | undefined;
  readonly createdAt: number;
}

/** Thrown when another request changed the flow first; the orchestrator re-reads and decides again. */
export class FlowConflict extends Error {
  constructor() {
    super('the challenge flow changed concurrently');
  }
}
