import type { EndpointOutcome, OutcomeKind } from '../loop/outcome';

/** An answer on the wire: status, JSON body, extra headers (the controller adds no-store and the DPoP nonce). */
export interface WireResponse {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers?: Record<string, string>;
}

type Renderers = { readonly [K in OutcomeKind]: (o: Extract<EndpointOutcome, { kind: K }>) => WireResponse };

/**
 * The native endpoint's renderer (FiPA -04 §5.2, CONTRACT §2/§5): every outcome the loop can
 * return, as JSON. `satisfies` makes a new outcome without a rendering a build error.
 */
export const FIPA_JSON = {
  // FED-14: the app invokes native_callback_uri?authorization_code=… with it.
  code: (o) => ({ status: 200, body: { authorization_code: o.authorizationCode, auth_session: o.authSession, ...(o.nativeCallbackUri !== undefined ? { native_callback_uri: o.nativeCallbackUri } : {}) } }),
  // FIPA-19: 403; FIPA-20: the challenge's hints travel as extra members.
  need_more: (o) => ({
    status: 403,
    body: { error: 'insufficient_authorization', auth_session: o.authSession, status: o.status, ...o.challenge, methods: [...o.methods] },
    ...(o.retryAfterSeconds !== undefined ? { headers: { 'Retry-After': String(o.retryAfterSeconds) } } : {}),
  }),
  // WALLET-2: `status: "pending"` while polling.
  pending: (o) => ({
    status: 403,
    body: {
      error: 'insufficient_authorization',
      auth_session: o.authSession,
      ...o.reply,
      challenge_type: o.challengeType,
      status: 'pending',
      expires_in: o.expiresIn,
      ...(o.intervalSeconds !== undefined ? { interval: o.intervalSeconds } : {}),
    },
  }),
  // FIPA-21: 403, with a PAR request_uri when the flow had a code_challenge.
  redirect_to_web: (o) => ({
    status: 403,
    body: {
      error: 'redirect_to_web',
      error_description: 'no native method can complete this request; continue in a browser',
      auth_session: o.authSession,
      ...(o.requestUri ? { request_uri: o.requestUri, expires_in: o.expiresIn } : {}),
    },
  }),
  // Consent is the browser's (the native endpoint serves first-party clients only): continue there.
  consent_required: (o) => ({
    status: 403,
    body: { error: 'redirect_to_web', error_description: 'this request needs the user’s consent in a browser', auth_session: o.authSession },
  }),
  // FED-8 (CONTRACT §2: federation errors are 400): launch deep_link; the handoff expires in expires_in.
  redirect_to_app: (o) => ({
    status: 400,
    body: { error: 'redirect_to_app', error_description: 'continue in the app the deep_link launches', deep_link: o.deepLink, auth_session: o.authSession, expires_in: o.expiresIn },
  }),
  // FED-6: 400 (CONTRACT §2), the prompt built from the client's routing policy; FED-17: no-store (the controller).
  insufficient_information: (o) => ({
    status: 400,
    body: { error: 'insufficient_information', auth_session: o.authSession, userPrompt: o.userPrompt, ...(o.logo ? { logo: o.logo } : {}) },
  }),
  // FED-5/FED-10: 400 with the four members the draft requires.
  federate: (o) => ({
    status: 400,
    body: { error: 'federate', auth_session: o.authSession, federation_uri: o.federationUri, federation_body: o.federationBody, response_uri: o.responseUri },
  }),
} satisfies Renderers;

export function renderFipaJson(outcome: EndpointOutcome): WireResponse {
  return (FIPA_JSON[outcome.kind] as (o: EndpointOutcome) => WireResponse)(outcome);
}
