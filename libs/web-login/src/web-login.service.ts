import { acrPolicyFor } from '@fpa/assurance';
import { Inject, Injectable } from '@nestjs/common';
import { AuthorizationDetailsRegistry, PushedRequests, parseAuthorizationRequest, type AuthorizationRequest } from '@fpa/authz-request';
import { CHALLENGE_METHODS, type ChallengeRegistry, type JsonObject } from '@fpa/challenge-kit';
import { ClientRegistry, isRegisteredRedirectUri, type Client } from '@fpa/clients';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { randomToken } from '@fpa/crypto';
import { InteractionLoop, type Caller, type EndpointOutcome } from '@fpa/interaction';
import { CLOCK, OAuthError, safeName, textFault, type Clock, type RequestInfo } from '@fpa/oauth-core';
import { DeviceSessionRepository, isUsable, type DeviceSession } from '@fpa/session';
import { BrowserBinding } from './browser-binding.service';
import { errorPage, renderBrowser, type BrowserAnswer } from './html/pages';
import { BrowserInteractions, type BrowserInteraction } from './interactions.service';
import { redirectWith } from './redirect';

/** What the controller sends: a page or a redirect, and the login cookie when this request set it. */
export interface WebAnswer {
  readonly answer: BrowserAnswer;
  readonly setCookie?: string;
  /** The redirect target's origin (or private-use scheme), allowed as a form action (CSP). */
  readonly formTarget?: string;
  /** Why an error page was shown (metrics only). */
  readonly refused?: RefusalReason;
}

export type RefusalReason = 'request' | 'input' | 'client' | 'request_uri' | 'redirect_uri' | 'expired' | 'binding' | 'csrf';

const refusal = (reason: RefusalReason, status: number, message: string, client?: Client): WebAnswer => ({ answer: errorPage(status, message, client), refused: reason });

type Params = Readonly<Record<string, unknown>>;

/** The error codes an authorization response may carry (RFC 6749 §4.1.2.1, RFC 8707, RFC 9396, OIDC). */
const AUTHORIZATION_ERRORS = new Set(['invalid_request', 'unauthorized_client', 'access_denied', 'unsupported_response_type', 'invalid_scope', 'server_error', 'temporarily_unavailable', 'invalid_target', 'invalid_authorization_details', 'login_required', 'consent_required']);
/** Others, as the nearest of those. */
const FALLBACK: Record<string, string> = { invalid_client: 'unauthorized_client', invalid_session: 'access_denied', slow_down: 'temporarily_unavailable', insufficient_authorization: 'access_denied' };

/** Errors a user can fix on the same page (a malformed address, a code sent too soon): shown, the flow goes on. */
const ON_PAGE = new Set(['invalid_request', 'slow_down', 'temporarily_unavailable', 'access_denied', 'invalid_dpop_proof']);

/**
 * The browser authorization endpoint (RFC 6749 §4.1 with PKCE, RFC 9207 `iss`, RFC 9126 §4) and
 * its hosted login: the same interaction loop as `/authorize-challenge`, with the cookie + CSRF
 * binding and the HTML renderer. Errors are pages until the redirect URI is known to be the
 * client's, redirects after (RFC 6749 §4.1.2.1).
 */
@Injectable()
export class WebLoginService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CHALLENGE_METHODS) private readonly methods: ChallengeRegistry,
    private readonly clients: ClientRegistry,
    private readonly sessions: DeviceSessionRepository,
    private readonly pushed: PushedRequests,
    private readonly details: AuthorizationDetailsRegistry,
    private readonly loop: InteractionLoop,
    private readonly binding: BrowserBinding,
    private readonly interactions: BrowserInteractions,
  ) {}

  /** `GET /authorize`: validate the request (or the pushed one), start the login, show its first page. */
  async start(params: Params, request: RequestInfo): Promise<WebAnswer> {
    // RFC 6749 §3.1: before anything is trusted, even the client, since a repeat makes the request ambiguous.
    const repeated = repeatedName(params);
    if (repeated) return refusal('request', 400, `The sign-in request repeats a parameter (${repeated}).`);
    // Issue 8's input rule, before any lookup: no control characters, lone surrogates or U+FFFD.
    const unfit = unfitName(params);
    if (unfit) return refusal('input', 400, `The sign-in request has characters that are not allowed (${unfit}).`);
    const clientId = typeof params.client_id === 'string' ? params.client_id : undefined;
    const client = clientId && clientId.length <= 128 ? await this.clients.find(clientId) : undefined;
    if (!client) return refusal('client', 400, 'This app is not known here (client_id).');
    if (!client.grantTypes.includes('authorization_code')) return refusal('client', 400, 'This app may not sign users in here.', client);

    let authRequest: AuthorizationRequest;
    let continues: string | undefined;
    if (params.request_uri !== undefined) {
      // PAR-10 / FIPA-22: the pushed request is the request; it is used once, by the client that pushed it.
      let pushed;
      try {
        pushed = await this.pushed.consume(String(params.request_uri), client.id);
      } catch {
        return refusal('request_uri', 400, 'This sign-in link was already used, has expired, or belongs to another app.', client);
      }
      const redirectUri = pushed.request.redirectUri ?? (client.redirectUris.length === 1 ? client.redirectUris[0] : undefined);
      if (!redirectUri) {
        const why = client.redirectUris.length === 0 ? 'This app has no web redirect URI: its pushed requests continue in the app (authorization challenge endpoint), not in a browser.' : 'This request names no redirect URI and the app has several.';
        return refusal('redirect_uri', 400, why, client);
      }
      authRequest = { ...pushed.request, redirectUri };
      continues = pushed.authSession;
    } else {
      const redirectUri = typeof params.redirect_uri === 'string' && isRegisteredRedirectUri(client, params.redirect_uri) ? params.redirect_uri : undefined;
      // RFC 6749 §4.1.2.1: never redirect to a URI that is not the client's.
      if (!redirectUri) return refusal('redirect_uri', 400, 'The redirect URI is missing or not registered for this app.', client);
      const state = typeof params.state === 'string' && /^[\x20-\x7E]{1,512}$/.test(params.state) ? params.state : undefined;
      const back = (e: OAuthError): WebAnswer => this.errorRedirect(redirectUri, state, e);
      // PAR-10: when pushing is required, a request that was not pushed is refused.
      if (this.config.authorization.requirePushedAuthorizationRequests || client.requirePushedAuthorizationRequests) {
        return back(new OAuthError('invalid_request', 'this client must push its authorization requests (request_uri from the PAR endpoint)'));
      }
      try {
        authRequest = parseAuthorizationRequest(client, params, { channel: 'browser', defaultAudience: this.config.tokens.defaultAudience, details: this.details });
      } catch (e) {
        if (e instanceof OAuthError) return back(e);
        throw e;
      }
    }
    const redirectUri = authRequest.redirectUri!;
    if (authRequest.prompt.includes('none')) return this.errorRedirect(redirectUri, authRequest.state, new OAuthError('login_required', 'the user must sign in'));
    // OIDC prompt=login: only an authentication of this request counts.
    if (authRequest.prompt.includes('login')) authRequest = { ...authRequest, maxAge: 0 };

    const known = this.binding.secretOf(request);
    const secret = known ?? this.binding.newSecret();
    const bindingKey = this.binding.bindingKey(secret);
    const session = continues ? await this.continued(continues, client) : this.newSession(client, bindingKey);
    if (!session) return this.errorRedirect(redirectUri, authRequest.state, new OAuthError('access_denied', 'the app session this sign-in continues has ended'));
    const interaction = this.interactions.create({ authSession: session.authSession, clientId: client.id, bindingKey, redirectUri, state: authRequest.state });
    const caller: Caller = {
      client,
      session,
      mode: 'browser',
      jkt: bindingKey,
      created: continues === undefined,
      startWith: authRequest,
      ...(continues === undefined ? { pending: this.persistence(session, request) } : {}),
    };
    const answer = await this.run(interaction, client, secret, authRequest.loginHint, () => this.loop.handleFor(caller, {}, request));
    return { ...answer, ...(known ? {} : { setCookie: this.binding.setCookie(secret) }) };
  }

  /** `POST /authorize/login`: one answer of the login, bound to this browser and its form. */
  async continue(body: Params, request: RequestInfo): Promise<WebAnswer> {
    if (repeatedName(body)) return refusal('request', 400, 'The form repeats a field.');
    if (unfitName(body)) return refusal('input', 400, 'The form has characters that are not allowed.');
    const interaction = await this.interactions.find(body.interaction);
    if (!interaction) return refusal('expired', 400, 'This sign-in has expired.');
    const secret = this.binding.secretOf(request);
    // A form of another browser's (or another window's) flow is refused, and so is one without its CSRF token.
    if (!secret || this.binding.bindingKey(secret) !== interaction.bindingKey) return refusal('binding', 403, 'This sign-in was started in another browser.');
    if (!this.binding.checkCsrf(interaction.id, secret, body.csrf)) return refusal('csrf', 403, 'This form has expired. Go back to the app and start again.');
    const client = await this.clients.find(interaction.clientId);
    const session = await this.sessions.find(interaction.authSession);
    if (!client || !session || !isUsable(session, this.clock.nowMs())) return this.errorRedirect(interaction.redirectUri, interaction.state, new OAuthError('access_denied', 'the sign-in has expired'));
    const caller: Caller = { client, session, mode: 'browser', jkt: interaction.bindingKey, created: false };
    if (body.cancel !== undefined) {
      await this.interactions.end(interaction);
      return this.errorRedirect(interaction.redirectUri, interaction.state, new OAuthError('access_denied', 'the user cancelled the sign-in'));
    }
    if (body.consent !== undefined) {
      return this.run(interaction, client, secret, undefined, () => this.loop.consent(caller, body.consent === 'approve', request), true);
    }
    const input: Record<string, JsonObject[string]> = {};
    for (const [k, v] of Object.entries(body)) if (k !== 'interaction' && k !== 'csrf' && (typeof v === 'string' || v === undefined)) input[k] = v as string;
    return this.run(interaction, client, secret, undefined, () => this.loop.handleFor(caller, input, request));
  }

  /** Runs one step and renders it; a refusal the user can fix re-shows the last page with the message. */
  private async run(interaction: BrowserInteraction, client: Client, secret: string, loginHint: string | undefined, step: () => Promise<EndpointOutcome>, consent = false): Promise<WebAnswer> {
    let outcome: EndpointOutcome;
    let error: string | undefined;
    try {
      outcome = await step();
    } catch (e) {
      if (!(e instanceof OAuthError)) throw e;
      const last = interaction.last as EndpointOutcome | undefined;
      if ((consent && e.code === 'access_denied') || !ON_PAGE.has(e.code) || !last) {
        await this.interactions.end(interaction);
        return this.errorRedirect(interaction.redirectUri, interaction.state, e);
      }
      outcome = last;
      error = e.description ?? 'That did not work. Try again.';
    }
    if (outcome.kind === 'code') await this.interactions.end(interaction);
    else await this.interactions.remember(interaction, outcome);
    const answer = renderBrowser(outcome, {
      client,
      interactionId: interaction.id,
      csrf: this.binding.csrfToken(interaction.id, secret),
      loginHint,
      parametersOf: (m) => this.methods.get(m)?.parameters ?? [],
      enrolActionOf: (m) => this.methods.get(m)?.assurance?.enrolAction,
      identifying: this.identifying(client),
      describeType: (type) => this.details.description(type),
      redirectWith: (params) => redirectWith(interaction.redirectUri, { ...params, ...(interaction.state ? { state: interaction.state } : {}), iss: this.config.http.issuer }),
      ...(error ? { error } : {}),
    });
    return { answer, formTarget: formTarget(interaction.redirectUri) };
  }

  /** The client's browser methods that identify a user (a verified e-mail or phone): the basis for adding a credential. */
  private identifying(client: Client): string[] {
    const enabled = [...this.methods.keys()].filter((m) => this.config.challenge.methods.includes(m));
    return acrPolicyFor(client.challengePolicy, enabled, { browser: true }).methods.filter((m) => this.methods.get(m)?.assurance?.verifies !== undefined);
  }

  /** RFC 6749 §4.1.2.1 with RFC 9207 `iss`. */
  private errorRedirect(redirectUri: string, state: string | undefined, e: OAuthError): WebAnswer {
    const params: Record<string, string> = { error: AUTHORIZATION_ERRORS.has(e.code) ? e.code : (FALLBACK[e.code] ?? 'invalid_request'), iss: this.config.http.issuer };
    if (e.description && e.code !== 'server_error') params.error_description = e.description.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, "'").slice(0, 200);
    if (state) params.state = state;
    return { answer: { kind: 'redirect', location: redirectWith(redirectUri, params) } };
  }

  /** A redirect_to_web continuation: the native session it names, still usable and the same client's. */
  private async continued(authSession: string, client: Client): Promise<DeviceSession | undefined> {
    const s = await this.sessions.find(authSession);
    return s && isUsable(s, this.clock.nowMs()) && s.clientId === client.id ? s : undefined;
  }

  private newSession(client: Client, bindingKey: string): DeviceSession {
    const nowMs = this.clock.nowMs();
    return {
      authSession: randomToken(32),
      clientId: client.id,
      keyJkt: bindingKey,
      publicJwk: {} as DeviceSession['publicJwk'],
      keyAlg: 'cookie',
      status: 'active',
      createdAt: new Date(nowMs),
      expiresAt: new Date(nowMs + this.config.challenge.sessionTtlSeconds * 1000),
      absoluteExpiresAt: new Date(nowMs + this.config.sessions.maxLifetimeSeconds * 1000),
      kind: 'browser',
      user: undefined,
    };
  }

  /** A new browser session is stored once the loop has accepted its request (no orphan rows). */
  private persistence(session: DeviceSession, request: RequestInfo): NonNullable<Caller['pending']> {
    const sessions = this.sessions;
    const pending = {
      persisted: false,
      async persist(): Promise<void> {
        if (pending.persisted) return;
        await sessions.create({ ...session, registeredIp: request.ip });
        pending.persisted = true;
      },
      async discard(): Promise<void> {
        if (!pending.persisted) return;
        await sessions.discardUnused(session.authSession);
        pending.persisted = false;
      },
    };
    return pending;
  }
}

/** What CSP `form-action` must allow for the answer's redirect: its origin, or its private-use scheme. */
function formTarget(redirectUri: string): string {
  const u = new URL(redirectUri);
  return u.protocol === 'https:' || u.protocol === 'http:' ? u.origin : u.protocol;
}

const NAME_RULES = { max: 128, lineBreaks: false } as const;

/** The first parameter whose name or value breaks the input rule (libs/oauth-core input-text), safe to show. */
function unfitName(params: Params): string | undefined {
  for (const [k, v] of Object.entries(params)) {
    if (textFault(k, NAME_RULES) || (typeof v === 'string' && textFault(v))) return safeName(k);
  }
  return undefined;
}

/** The first parameter given more than once (kept as an array by the controller), safe to show. */
function repeatedName(params: Params): string | undefined {
  for (const [k, v] of Object.entries(params)) if (Array.isArray(v)) return k.replace(/[^A-Za-z0-9_.-]/g, '?').slice(0, 40);
  return undefined;
}
