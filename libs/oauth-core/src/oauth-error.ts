/**
 * The one error type of the suite. Domain code throws `OAuthError` (never a Nest HttpException);
 * one exception filter renders it. The table below is checked by the compiler: a code without a
 * status does not build.
 */

export type OAuthErrorCode =
  // RFC 6749 §5.2 (token endpoint)
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  // RFC 6749 §4.1.2.1 (authorization endpoint)
  | 'unsupported_response_type'
  | 'login_required'
  | 'consent_required'
  // OIDC Core §3.1.2.6 (RFC 9126 §3: a server that takes no request objects)
  | 'request_not_supported'
  // RFC 9396 §5 (RAR-4)
  | 'invalid_authorization_details'
  | 'access_denied'
  // RFC 8707
  | 'invalid_target'
  // RFC 7009
  | 'unsupported_token_type'
  // RFC 9200 §5.8.3 (ACE-4): the resource server cannot use the requested PoP key
  | 'unsupported_pop_key'
  // RFC 9449 (AS side: 400, GEN-1 / DPOP-16 / DPOP-27)
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  // FiPA -04 (FIPA-19)
  | 'invalid_session'
  | 'insufficient_authorization'
  | 'redirect_to_web'
  // Federation draft (FED-8; CONTRACT §2: federation errors are 400); the loop answers it as an outcome (FIPA_JSON)
  | 'redirect_to_app'
  // draft-zehavi-oauth-native-clients-federation (FED-5, FED-6, FED-9; CONTRACT §2: 400)
  | 'insufficient_information'
  | 'federate'
  | 'native_authorization_federate_unsupported'
  /** VP-6 (OpenID4VP 1.0 §8.5): a wallet's response the verifier refuses. */
  | 'invalid_transaction_data'
  | 'vp_formats_not_supported'
  // RFC 6750 / RFC 9470 (resource servers)
  | 'invalid_token'
  | 'insufficient_scope'
  | 'insufficient_user_authentication'
  // operational
  | 'slow_down'
  | 'not_found'
  | 'method_not_allowed'
  | 'temporarily_unavailable'
  | 'server_error';

interface CodeSpec {
  readonly status: number;
  /** false: the description is replaced before it leaves the process. */
  readonly expose: boolean;
}

export const OAUTH_ERROR_TABLE = {
  invalid_request: { status: 400, expose: true },
  invalid_client: { status: 401, expose: true },
  invalid_grant: { status: 400, expose: true },
  unauthorized_client: { status: 400, expose: true },
  unsupported_grant_type: { status: 400, expose: true },
  invalid_scope: { status: 400, expose: true },
  invalid_authorization_details: { status: 400, expose: true },
  unsupported_response_type: { status: 400, expose: true },
  login_required: { status: 400, expose: true },
  consent_required: { status: 400, expose: true },
  request_not_supported: { status: 400, expose: true },
  access_denied: { status: 400, expose: true },
  invalid_target: { status: 400, expose: true },
  unsupported_pop_key: { status: 400, expose: true },
  unsupported_token_type: { status: 400, expose: true },
  invalid_dpop_proof: { status: 400, expose: true },
  use_dpop_nonce: { status: 400, expose: true },
  invalid_session: { status: 400, expose: true },
  insufficient_authorization: { status: 403, expose: true },
  redirect_to_web: { status: 403, expose: true },
  redirect_to_app: { status: 400, expose: true },
  insufficient_information: { status: 400, expose: true },
  federate: { status: 400, expose: true },
  native_authorization_federate_unsupported: { status: 400, expose: true },
  invalid_transaction_data: { status: 400, expose: true },
  vp_formats_not_supported: { status: 400, expose: true },
  invalid_token: { status: 401, expose: true },
  insufficient_scope: { status: 403, expose: true },
  insufficient_user_authentication: { status: 403, expose: true },
  slow_down: { status: 429, expose: true },
  not_found: { status: 404, expose: true },
  method_not_allowed: { status: 405, expose: true },
  temporarily_unavailable: { status: 503, expose: true },
  server_error: { status: 500, expose: false },
} as const satisfies Record<OAuthErrorCode, CodeSpec>;

export interface OAuthErrorOptions {
  /** Extra top-level members a draft adds (`auth_session`, `request_uri`, …). */
  readonly extra?: Readonly<Record<string, unknown>>;
  readonly headers?: Readonly<Record<string, string>>;
  /** Only where a spec sets another status for the same code (e.g. 413 for invalid_request). */
  readonly status?: number;
  /** Internal detail for logs and metrics, never sent to the client. */
  readonly reason?: string;
  readonly cause?: unknown;
}

export class OAuthError extends Error {
  readonly status: number;
  readonly extra: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, string>>;
  readonly reason: string | undefined;

  constructor(
    readonly code: OAuthErrorCode,
    readonly description?: string,
    options: OAuthErrorOptions = {},
  ) {
    super(description ? `${code}: ${description}` : code, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OAuthError';
    this.status = options.status ?? OAUTH_ERROR_TABLE[code].status;
    this.extra = options.extra ?? {};
    this.headers = options.headers ?? {};
    this.reason = options.reason;
  }

  /** RFC 6749 §5.2 body: `error`, `error_description` (only when exposable), extra members. */
  toBody(): Record<string, unknown> {
    const spec = OAUTH_ERROR_TABLE[this.code];
    const body: Record<string, unknown> = { error: this.code };
    if (spec.expose && this.description) body.error_description = sanitizeDescription(this.description);
    return { ...body, ...this.extra };
  }

  /** FIPA-17: once a session exists, its errors carry `auth_session` (server_error never does). */
  withAuthSession(authSession: string): OAuthError {
    if (this.code === 'server_error' || this.extra.auth_session !== undefined) return this;
    return new OAuthError(this.code, this.description, { extra: { ...this.extra, auth_session: authSession }, headers: this.headers, status: this.status, reason: this.reason, cause: this.cause });
  }

  withHeaders(headers: Record<string, string>): OAuthError {
    return new OAuthError(this.code, this.description, {
      extra: this.extra,
      headers: { ...this.headers, ...headers },
      status: this.status,
      reason: this.reason,
      cause: this.cause,
    });
  }
}

/** RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E. */
export function sanitizeDescription(text: string): string {
  return text.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, "'").slice(0, 300);
}

export function isOAuthError(e: unknown): e is OAuthError {
  return e instanceof OAuthError;
}
