import type { Type, DynamicModule, ForwardReference } from '@nestjs/common';
import type { Form, RequestInfo } from '@fpa/oauth-core';
import type { ValidatedDpopProof } from '@fpa/dpop';
import type { AuthenticatedClient } from './client-authenticator.service';

export interface GrantContext {
  /** Only the parameters the grant declared (plus the client-authentication ones when it authenticates clients). */
  readonly form: Form;
  /** Set when the grant declared `clientAuth: 'required'`. */
  readonly client: AuthenticatedClient | undefined;
  /** The request's validated DPoP proof (nonce checked, jti claimed), when one was sent. */
  readonly dpop: ValidatedDpopProof | undefined;
  readonly request: RequestInfo;
}

export interface GrantResult {
  readonly body: Record<string, unknown>;
  /** Metrics label for issued tokens; omit for grants that issue no access token (fp_register). */
  readonly issued?: { readonly tokenType: 'DPoP' | 'Bearer' | 'PoP' };
}

/**
 * A token-endpoint grant (STYLE.md plug-in shape). The endpoint drops every form field the grant
 * did not declare, authenticates the client when the grant asks for it, validates DPoP, and then
 * dispatches with one map lookup on `grant_type`.
 */
export interface GrantHandler {
  readonly grantType: string;
  /** Allow-list of form parameters (client-authentication parameters are added by the endpoint). */
  readonly parameters: readonly string[];
  readonly clientAuth: 'required' | 'none';
  /** `ignored`: the grant issues nothing a DPoP key could bind (fp_register). */
  readonly dpop: 'supported' | 'ignored';
  handle(ctx: GrantContext): Promise<GrantResult>;
}

export interface GrantPlugin {
  readonly grantType: string;
  readonly handler: Type<GrantHandler>;
  readonly imports?: (Type | DynamicModule | ForwardReference)[];
}

export const GRANT_REGISTRY = Symbol('GRANT_REGISTRY');
export type GrantRegistry = ReadonlyMap<string, GrantHandler>;
