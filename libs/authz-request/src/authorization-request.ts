import { acrPolicyFor, requestedAcrs } from '@fpa/assurance';
import { audienceFor, grantedScopes, isRegisteredRedirectUri, type Client } from '@fpa/clients';
import { OAuthError } from '@fpa/oauth-core';
import type { AuthorizationDetail, AuthorizationDetailsRegistry } from './authorization-details';

/**
 * One authorization request (RFC 6749 §4.1.1 with PKCE, RFC 8707, RFC 9396, RFC 9449 §10, OIDC
 * acr/max_age/login_hint, FED-3), validated for its client — the same value whether it came to
 * the browser endpoint, was pushed (PAR) or started a native flow. Wire names only at the edges.
 */
export interface AuthorizationRequest {
  readonly clientId: string;
  readonly responseType: 'code';
  /**
   * Browser and pushed requests: the exact registered redirect URI the code goes to; none natively,
   * nor in a request pushed by a client that has no redirect URI (consumed at the native endpoint).
   */
  readonly redirectUri: string | undefined;
  readonly scopes: readonly string[];
  readonly state: string | undefined;
  /** RFC 7636 S256 challenge (required except for a device's native request). */
  readonly codeChallenge: string | undefined;
  readonly acrValues: string | undefined;
  readonly maxAge: number | undefined;
  readonly loginHint: string | undefined;
  readonly resource: string | undefined;
  readonly authorizationDetails: readonly AuthorizationDetail[] | undefined;
  /** RFC 9449 §10: the key the code is bound to (from `dpop_jkt`, or a DPoP proof at PAR). */
  readonly dpopJkt: string | undefined;
  /** FED-3: the app's claimed-HTTPS deep link another app may hand a response back to. */
  readonly nativeCallbackUri: string | undefined;
  /** OIDC `prompt`: `login` asks for a new authentication, `consent` for the consent screen, `none` for no UI. */
  readonly prompt: readonly ('login' | 'consent' | 'none')[];
}

/** A request with nothing but what every request has (tests and defaults start from it). */
export function emptyAuthorizationRequest(clientId: string, overrides: Partial<AuthorizationRequest> = {}): AuthorizationRequest {
  return {
    clientId,
    responseType: 'code',
    redirectUri: undefined,
    scopes: [],
    state: undefined,
    codeChallenge: undefined,
    acrValues: undefined,
    maxAge: undefined,
    loginHint: undefined,
    resource: undefined,
    authorizationDetails: undefined,
    dpopJkt: undefined,
    nativeCallbackUri: undefined,
    prompt: [],
    ...overrides,
  };
}

/** Where the request is being made; decides which parameters are required, optional or refused. */
export type RequestChannel = 'browser' | 'par' | 'native_public' | 'native_device';

export interface RequestContext {
  readonly channel: RequestChannel;
  readonly defaultAudience: string;
  readonly details: AuthorizationDetailsRegistry;
}

type Params = Readonly<Record<string, unknown>>;

export const NATIVE_CALLBACK_URI_MAX = 2048;

/**
 * FED-3/FED-4: what a `native_callback_uri` must look like — an absolute https URL (a claimed link,
 * RFC 8252 §7.2) with a host, without fragment (RFC 6749 §3.1.2), credentials or whitespace.
 */
export function nativeCallbackUriProblem(uri: string): string | undefined {
  if (uri.length > NATIVE_CALLBACK_URI_MAX) return `must be at most ${NATIVE_CALLBACK_URI_MAX} characters`;
  if (/\s/.test(uri) || [...uri].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f) || uri.includes('#')) return 'must not contain a fragment, whitespace or control characters';
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return 'must be an absolute https URL';
  }
  if (u.protocol !== 'https:' || !u.hostname) return 'must be an absolute https URL (a claimed link)';
  if (u.username || u.password) return 'must not contain credentials';
  return undefined;
}

const STATE = /^[\x20-\x7E]{1,512}$/;
const JKT = /^[A-Za-z0-9_-]{43}$/;
const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const PROMPTS = ['login', 'consent', 'none'] as const;

function str(params: Params, name: string, max: number): string | undefined {
  const v = params[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || v.length > max) throw new OAuthError('invalid_request', `${name} must be a string of at most ${max} characters`);
  return v;
}

/**
 * Validates every authorization parameter against the client (RFC 6749 §3.1: unknown parameters
 * are ignored). `request_uri` is not a parameter here: the caller resolves it first (PAR-10) and
 * PAR itself refuses it (PAR-2).
 */
export function parseAuthorizationRequest(client: Client, params: Params, ctx: RequestContext): AuthorizationRequest {
  const native = ctx.channel === 'native_public' || ctx.channel === 'native_device';
  // FIPA-10: `code`, and required where an authorization request starts from nothing. At the native
  // endpoint the request that creates a session is checked by its caller binding; a new request on
  // an existing session (FIPA-13 step-up) and a device's (seed 004's `email=` alone) may omit it.
  const responseType = str(params, 'response_type', 32);
  if (responseType === undefined ? !native : responseType !== 'code') throw new OAuthError(responseType === undefined ? 'invalid_request' : 'unsupported_response_type', 'response_type must be code');

  const redirectUri = str(params, 'redirect_uri', 2048);
  if (native) {
    if (redirectUri !== undefined) throw new OAuthError('invalid_request', 'redirect_uri is not used at the authorization challenge endpoint');
  } else if (redirectUri !== undefined || ctx.channel === 'browser' || client.redirectUris.length > 0) {
    // RFC 9700 §2.1 / PAR-9: exact string match against a registered URI, never a pattern (no
    // per-request redirect URIs at PAR either). A pushed request may omit it only when the client has
    // none registered: a native app (or a federating server) whose request is consumed at the native
    // endpoint, where codes are answered, never redirected (FIPA-29, FED-11).
    if (redirectUri === undefined) throw new OAuthError('invalid_request', 'redirect_uri is required');
    if (!isRegisteredRedirectUri(client, redirectUri)) throw new OAuthError('invalid_request', 'redirect_uri is not registered for this client');
  }

  const codeChallenge = str(params, 'code_challenge', 128);
  const method = str(params, 'code_challenge_method', 16);
  // GEN-2: S256 only (`plain` refused by policy); RFC 9700 §2.1.1: PKCE for every code flow but a device's, which authenticates at /token.
  if (codeChallenge !== undefined && (method ?? 'plain') !== 'S256') throw new OAuthError('invalid_request', 'code_challenge_method must be S256');
  if (codeChallenge !== undefined && !CHALLENGE.test(codeChallenge)) throw new OAuthError('invalid_request', 'code_challenge must be a base64url SHA-256');
  if (codeChallenge === undefined && ctx.channel !== 'native_device') throw new OAuthError('invalid_request', 'code_challenge (S256) is required');

  const state = str(params, 'state', 512);
  if (state !== undefined && !STATE.test(state)) throw new OAuthError('invalid_request', 'state must be printable ASCII');

  const acrValues = str(params, 'acr_values', 1024);
  // Refused here already when unknown (the client's policy adds its own values to the built-in ones).
  if (acrValues !== undefined) requestedAcrs(acrPolicyFor(client.challengePolicy, []), acrValues);

  const maxAgeRaw = str(params, 'max_age', 12);
  if (maxAgeRaw !== undefined && !/^\d{1,9}$/.test(maxAgeRaw)) throw new OAuthError('invalid_request', 'max_age must be a number of seconds');

  const resource = str(params, 'resource', 512);
  audienceFor(client, resource, ctx.defaultAudience);

  const rawDetails = params.authorization_details;
  const authorizationDetails = rawDetails === undefined || rawDetails === '' ? undefined : ctx.details.parse(rawDetails, client.authorizationDetailsTypes);

  const dpopJkt = str(params, 'dpop_jkt', 64);
  if (dpopJkt !== undefined && !JKT.test(dpopJkt)) throw new OAuthError('invalid_request', 'dpop_jkt must be a base64url SHA-256 JWK thumbprint (RFC 9449 §10)');

  // FED-3/FED-4: a redirect URI of the app, checked here for its form only; whether this client may
  // use it is NativeCallbackTrust's (async: an allow-list, or an OpenID Federation trust chain),
  // which PAR and the native endpoint ask before anything is stored. The browser endpoint has its
  // redirect_uri and no use for it: there the parameter is ignored (RFC 6749 §3.1).
  const nativeCallbackUri = ctx.channel === 'browser' ? undefined : str(params, 'native_callback_uri', NATIVE_CALLBACK_URI_MAX);
  if (nativeCallbackUri !== undefined) {
    const why = nativeCallbackUriProblem(nativeCallbackUri);
    if (why) throw new OAuthError('invalid_request', `native_callback_uri ${why}`);
  }

  const promptRaw = str(params, 'prompt', 64);
  const prompt = promptRaw === undefined ? [] : [...new Set(promptRaw.split(' ').filter(Boolean))];
  if (prompt.some((p) => !(PROMPTS as readonly string[]).includes(p))) throw new OAuthError('invalid_request', 'prompt must be login, consent or none');
  if (prompt.includes('none') && prompt.length > 1) throw new OAuthError('invalid_request', 'prompt=none cannot be combined');

  const loginHint = str(params, 'login_hint', 320) ?? (native ? (str(params, 'email', 320) ?? str(params, 'phone', 32)) : undefined);
  return {
    clientId: client.id,
    responseType: 'code',
    redirectUri,
    scopes: grantedScopes(client, str(params, 'scope', 1024)),
    state,
    codeChallenge,
    acrValues,
    maxAge: maxAgeRaw === undefined ? undefined : Number(maxAgeRaw),
    loginHint,
    resource,
    authorizationDetails,
    dpopJkt,
    nativeCallbackUri,
    prompt: prompt as AuthorizationRequest['prompt'],
  };
}
