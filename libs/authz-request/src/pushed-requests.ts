import { Inject, Injectable } from '@nestjs/common';
import { randomToken } from '@fpa/crypto';
import { CLOCK, OAuthError, type Clock } from '@fpa/oauth-core';
import { EPHEMERAL_STORE, StoreKeys, type EphemeralStore } from '@fpa/store';
import type { AuthorizationRequest } from './authorization-request';

/** RFC 9126 §2.2 (PAR-7): the `request_uri` form, with a 256-bit random reference. */
export const REQUEST_URI_PREFIX = 'urn:ietf:params:oauth:request_uri:';

/** What a pushed request keeps: the validated request, for whom, and (redirect_to_web) the native session it continues. */
export interface PushedRequest {
  readonly request: AuthorizationRequest;
  /** FIPA-21: a native flow's `auth_session` that the browser login continues (FED-14: the app continues). */
  readonly authSession?: string;
  /**
   * FED-8/FED-14: a `redirect_to_app` handoff, not a pushed request — only these apps (first-party
   * clients of this server) may take it, with `consumeHandoff`; `consume` never returns it.
   */
  readonly handoffTo?: readonly string[];
}

/** As stored: the request and when it stops being usable by the server's clock. */
interface StoredPushedRequest extends PushedRequest {
  readonly expiresAtMs: number;
}

/**
 * Pushed authorization requests (RFC 9126; FIPA-21/22 for `redirect_to_web`): stored in the
 * ephemeral store under a hash of the unguessable reference, bound to the client that pushed it,
 * short-lived, and consumed once (PAR-7, PAR-10) — a second use, another client's use, or an
 * expired reference finds nothing. Expiry is judged by the server's CLOCK, as codes and sessions
 * are (the store's TTL only removes what nobody used).
 */
@Injectable()
export class PushedRequests {
  constructor(
    @Inject(EPHEMERAL_STORE) private readonly store: EphemeralStore,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async push(pushed: PushedRequest, ttlSeconds: number): Promise<{ requestUri: string; expiresIn: number }> {
    const reference = randomToken(32);
    const stored: StoredPushedRequest = { ...pushed, expiresAtMs: this.clock.nowMs() + ttlSeconds * 1000 };
    await this.store.setJson(StoreKeys.pushedRequest(reference), stored, ttlSeconds);
    return { requestUri: `${REQUEST_URI_PREFIX}${reference}`, expiresIn: ttlSeconds };
  }

  /**
   * Consumes the request behind `requestUri` for `clientId` (PAR-10: the `client_id` of the
   * authorization request must be the client it was pushed by). Refused as `invalid_request`
   * otherwise — one error for unknown, used, expired and foreign, so nothing is learned from it.
   * `accept` may refuse it too (by throwing) before it is taken, so a caller that fails another of
   * its bindings (the DPoP key it was pushed with) does not burn it either.
   */
  async consume(requestUri: string, clientId: string, accept?: (pushed: PushedRequest) => void): Promise<PushedRequest> {
    return this.take(requestUri, clientId, false, accept);
  }

  /**
   * FED-14: consumes a `redirect_to_app` handoff stored for `clientId` (the federating client whose
   * request it carries) — once, atomically, and only a handoff (a pushed request is refused here, as
   * a handoff is by `consume`). `accept` checks the app taking it before it is taken.
   */
  async consumeHandoff(requestUri: string, clientId: string, accept: (pushed: PushedRequest) => void): Promise<PushedRequest> {
    return this.take(requestUri, clientId, true, accept);
  }

  private async take(requestUri: string, clientId: string, handoff: boolean, accept?: (pushed: PushedRequest) => void): Promise<PushedRequest> {
    const reference = requestUri.startsWith(REQUEST_URI_PREFIX) ? requestUri.slice(REQUEST_URI_PREFIX.length) : '';
    if (!/^[A-Za-z0-9_-]{43}$/.test(reference)) throw refused();
    const key = StoreKeys.pushedRequest(reference);
    // Looked at first, so another client naming it cannot burn it; then taken, once, atomically.
    const usable = (p: StoredPushedRequest | undefined): p is StoredPushedRequest =>
      p !== undefined && p.request.clientId === clientId && (p.handoffTo !== undefined) === handoff && this.clock.nowMs() < p.expiresAtMs;
    const peek = await this.store.getJson<StoredPushedRequest>(key);
    if (!usable(peek)) throw refused();
    accept?.(view(peek));
    const pushed = await this.store.takeJson<StoredPushedRequest>(key);
    if (!usable(pushed)) throw refused();
    return view(pushed);
  }
}

function view(p: StoredPushedRequest): PushedRequest {
  return { request: p.request, ...(p.authSession !== undefined ? { authSession: p.authSession } : {}), ...(p.handoffTo !== undefined ? { handoffTo: p.handoffTo } : {}) };
}

function refused(): OAuthError {
  return new OAuthError('invalid_request', 'request_uri is unknown, expired, already used, or was pushed by another client');
}
