import type { AuthorizationChallenge, AuthorizeOptions, UserPrompt } from './authorization-challenge';
import { ChallengeAbandonedError, OAuthClientError, RedirectToWebError } from './errors';

/** One answer of a native authorization endpoint (or of a `response_uri`, which answers the same way, FED-12). */
export interface EndpointResponse {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Headers;
}

export type WalkEvent =
  | { readonly step: 'challenge'; readonly status: string; readonly challengeType: string | undefined; readonly methods: readonly string[] }
  | { readonly step: 'federate'; readonly from: string; readonly to: string }
  | { readonly step: 'insufficient_information'; readonly server: string; readonly asked: readonly string[] }
  | { readonly step: 'redirect_to_app'; readonly server: string }
  | { readonly step: 'federation_response'; readonly server: string; readonly carried: string };

/** What the walk needs of the client: one DPoP-proved request (form or JSON, nonce retry) and an event sink. */
export interface WalkPort {
  request(url: string, params: Record<string, unknown>, accessToken: string | undefined): Promise<EndpointResponse>;
  emit(event: WalkEvent): void;
}

/** A `federate` the walk followed: where the downstream's answer goes back to, and as which session (FED-5, FED-12). */
interface Frame {
  readonly endpoint: string;
  readonly accessToken: string | undefined;
  readonly responseUri: string;
  readonly authSession: string;
}

/** The client handles these itself wherever they come from; every other downstream answer goes to response_uri (FED-13). */
const HANDLED_LOCALLY = new Set(['federate', 'insufficient_authorization', 'insufficient_information', 'redirect_to_app', 'redirect_to_web']);
/** FED-7: the only free-text inputs a client may show. */
const FREE_TEXT = new Set(['email', 'phone']);

/**
 * The native authorization loop across servers (FiPA -04 §5 and draft-zehavi-oauth-native-clients-
 * federation): answers challenges, asks the user for routing information, follows `federate` to the
 * downstream server's native endpoint, opens another app on `redirect_to_app`, and carries each
 * downstream result to the `response_uri` of the server that federated — until the home server
 * issues the code meant for this client. Returns that code and the home `auth_session`.
 */
export async function walkNativeAuthorization(
  port: WalkPort,
  start: { readonly endpoint: string; readonly accessToken: string | undefined; readonly params: Record<string, unknown> },
  options: AuthorizeOptions,
): Promise<{ readonly authorizationCode: string; readonly authSession: string; readonly body: Readonly<Record<string, unknown>> }> {
  let endpoint = start.endpoint;
  let accessToken = start.accessToken;
  const frames: Frame[] = [];
  const maxSteps = options.maxSteps ?? 20;
  let steps = 1;
  let response = await port.request(endpoint, { ...start.params }, accessToken);
  for (;;) {
    if (++steps > maxSteps + 1) throw new Error(`the authorization did not complete within ${maxSteps} requests`);
    let { status, body } = response;
    const error = typeof body.error === 'string' ? body.error : undefined;

    if (status === 400 && error === 'redirect_to_app') {
      // FED-8/FED-14: the app hands back what the downstream server answered it, as query parameters.
      const deepLink = stringMember(body, 'deep_link', response);
      port.emit({ step: 'redirect_to_app', server: origin(endpoint) });
      const back = options.onRedirectToApp ? await options.onRedirectToApp({ server: origin(endpoint), deepLink }) : undefined;
      if (!back) throw new OAuthClientError(400, 'redirect_to_app', 'no app handled the deep link', body, response.headers);
      body = { ...back };
      status = typeof back.error === 'string' ? 400 : 200;
    }

    const code = typeof body.authorization_code === 'string' ? body.authorization_code : undefined;
    const frame = frames.at(-1);
    if (status === 200 && code !== undefined && !frame) {
      return { authorizationCode: code, authSession: typeof body.auth_session === 'string' ? body.auth_session : String(start.params.auth_session ?? ''), body };
    }
    if (frame && ((status === 200 && code !== undefined) || (status >= 400 && status < 500 && error !== undefined && !HANDLED_LOCALLY.has(error)))) {
      // FED-12/FED-13: the downstream's answer (a code, or an error) goes to the federating server's
      // response_uri with that server's auth_session; its answer is a normal native endpoint answer.
      frames.pop();
      endpoint = frame.endpoint;
      accessToken = frame.accessToken;
      const carried = Object.fromEntries(Object.entries(body).filter(([k, v]) => k !== 'auth_session' && typeof v === 'string')) as Record<string, string>;
      port.emit({ step: 'federation_response', server: origin(frame.responseUri), carried: code !== undefined ? 'authorization_code' : String(error) });
      response = await port.request(frame.responseUri, { ...carried, auth_session: frame.authSession }, undefined);
      continue;
    }
    if (status === 400 && error === 'federate') {
      // FED-5/FED-13: POST federation_body to federation_uri; the device token stays home.
      const federationUri = stringMember(body, 'federation_uri', response);
      const federationBody = stringMember(body, 'federation_body', response);
      frames.push({ endpoint, accessToken, responseUri: stringMember(body, 'response_uri', response), authSession: stringMember(body, 'auth_session', response) });
      port.emit({ step: 'federate', from: origin(endpoint), to: origin(federationUri) });
      endpoint = federationUri;
      accessToken = undefined;
      response = await port.request(endpoint, Object.fromEntries(new URLSearchParams(federationBody)), undefined);
      continue;
    }
    if (status === 400 && error === 'insufficient_information') {
      const authSession = stringMember(body, 'auth_session', response);
      const userPrompt = visiblePrompt(body.userPrompt);
      const asked = [...Object.keys(userPrompt.options ?? {}), ...Object.keys(userPrompt.inputs ?? {})];
      port.emit({ step: 'insufficient_information', server: origin(endpoint), asked });
      const answers = options.onInformation ? await options.onInformation({ server: origin(endpoint), authSession, userPrompt, ...(typeof body.logo === 'string' ? { logo: body.logo } : {}) }) : undefined;
      if (!answers) throw new OAuthClientError(status, error, 'the routing information was not given', body, response.headers);
      // Only what was asked travels: a select list's listed values, and the allowed free-text inputs.
      const sent = Object.fromEntries(Object.entries(answers).filter(([k, v]) => typeof v === 'string' && (userPrompt.options?.[k]?.values[v] !== undefined || userPrompt.inputs?.[k] !== undefined)));
      response = await port.request(endpoint, { ...sent, auth_session: authSession }, accessToken);
      continue;
    }
    if (status === 403 && error === 'redirect_to_web') throw new RedirectToWebError(body, response.headers);
    if (status === 403 && error === 'insufficient_authorization') {
      const challenge = body as unknown as AuthorizationChallenge;
      port.emit({ step: 'challenge', status: challenge.status, challengeType: challenge.challenge_type, methods: challenge.methods ?? [] });
      const answer = await options.onChallenge(challenge);
      if (answer === undefined) throw new ChallengeAbandonedError(challenge);
      response = await port.request(endpoint, { ...answer, auth_session: challenge.auth_session }, accessToken);
      continue;
    }
    throw new OAuthClientError(status, error ?? 'unknown_error', typeof body.error_description === 'string' ? body.error_description : undefined, body, response.headers);
  }
}

/** FED-7: clients ignore free-text inputs other than `email` and `phone`. */
function visiblePrompt(raw: unknown): UserPrompt {
  const prompt = (raw && typeof raw === 'object' ? raw : {}) as UserPrompt;
  const inputs = Object.fromEntries(Object.entries(prompt.inputs ?? {}).filter(([k]) => FREE_TEXT.has(k)));
  return { ...(prompt.options ? { options: prompt.options } : {}), ...(Object.keys(inputs).length > 0 ? { inputs } : {}) };
}

function stringMember(body: Record<string, unknown>, name: string, response: EndpointResponse): string {
  const value = body[name];
  if (typeof value !== 'string' || value.length === 0) throw new OAuthClientError(response.status, String(body.error ?? 'unknown_error'), `the answer lacks ${name}`, body, response.headers);
  return value;
}

function origin(url: string): string {
  return new URL(url).origin;
}
