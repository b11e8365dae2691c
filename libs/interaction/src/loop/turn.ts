import type { AcrPolicy, AuthEvent } from '@fpa/assurance';
import type { RequestInfo } from '@fpa/oauth-core';
import type { User } from '@fpa/users';
import type { Caller } from '../bindings/caller';
import type { FlowState } from '../flow/flow-state';

/** An authentication event of the session, with whose and which flow's it is. */
export interface SessionEvent extends AuthEvent {
  readonly userId: string;
  readonly flowId: string | null;
}

/**
 * One request's pass through the loop: the bound caller, the flow at the version read, the
 * policy, and what was read about the session (cached for the request, kept current as it writes).
 */
export interface Turn {
  readonly caller: Caller;
  flow: FlowState;
  version: number;
  readonly policy: AcrPolicy;
  /** `acr_values` of the flow, parsed (preference order). */
  readonly requested: readonly string[];
  readonly request: RequestInfo;
  /** This request started the flow (a login_hint picks a method only then, not on every follow-up). */
  readonly started: boolean;
  /** The flow is new and not stored yet: the first write (or the loop, before answering) stores it. */
  dirty: boolean;
  events?: SessionEvent[];
  user?: User | null;
}
