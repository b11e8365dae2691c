import type { Client } from '@fpa/clients';

/**
 * FED-4: how the suite establishes trust in a `native_callback_uri`. Policies are asked in order;
 * the first 'trusted' wins. Declared here with exactly the shape libs/authz-request declares, so
 * this lib compiles on its own; the two are structurally identical and the lead wires one to the other.
 */
export interface NativeCallbackTrustPolicy {
  readonly name: string;
  /** 'trusted' establishes trust; 'unknown' lets the next policy decide. A definite refusal throws OAuthError('invalid_request', …). */
  check(client: Client, uri: string): Promise<'trusted' | 'unknown'>;
}
