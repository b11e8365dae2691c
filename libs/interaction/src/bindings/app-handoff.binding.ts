import { Inject, Injectable } from '@nestjs/common';
import { PushedRequests, type AuthorizationRequest } from '@fpa/authz-request';
import { ClientRegistry } from '@fpa/clients';
import { CLOCK, OAuthError, type Clock, type RequestInfo } from '@fpa/oauth-core';
import { AuditService } from '@fpa/platform';
import { DeviceSessionRepository, isUsable } from '@fpa/session';
import type { ChallengeInput } from '../http/challenge-request';
import { InteractionMetrics } from '../interaction.metrics';
import type { Caller, CallerBinding } from './caller';
import { DeviceTokenBinding } from './device-token.binding';

/**
 * FED-14: this server's own app completes a `redirect_to_app` handoff. It was launched with the
 * deep link `…?client_id=<federating client>&request_uri=<handoff>` and posts both here with
 * `Authorization: DPoP <its device access token>` and a proof (ath) — the device binding verifies
 * those, unchanged. The app must be a first-party client listed in the federating client's
 * `redirect_to_app.app_client_ids`; the handoff is taken once, atomically, by it alone (another
 * app neither uses nor burns it). The flow runs on the app's own device session with the app's
 * methods (it is first-party); the code is the federating client's (CodeIssuer: its request, its
 * `federated` session, its PKCE challenge and `dpop_jkt`), answered with `native_callback_uri`.
 * A device naming its own client_id with a request_uri it pushed itself is a plain device request.
 */
@Injectable()
export class AppHandoffBinding implements CallerBinding {
  readonly name = 'app_handoff';

  constructor(
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly device: DeviceTokenBinding,
    private readonly clients: ClientRegistry,
    private readonly pushed: PushedRequests,
    private readonly sessions: DeviceSessionRepository,
    private readonly metrics: InteractionMetrics,
    private readonly audit: AuditService,
  ) {}

  applies(request: RequestInfo, input: ChallengeInput): boolean {
    return this.device.applies(request) && typeof input.request_uri === 'string' && typeof input.client_id === 'string';
  }

  async bind(input: ChallengeInput, request: RequestInfo): Promise<Caller> {
    const { client_id: clientId, request_uri: requestUri, ...rest } = input as Record<string, unknown>;
    const app = await this.device.bind(rest as ChallengeInput, request);
    if (clientId === app.client.id) return app;
    if (typeof clientId !== 'string' || typeof requestUri !== 'string' || clientId.length > 128 || requestUri.length > 256) throw new OAuthError('invalid_request', 'client_id and request_uri must be short strings');
    if (Object.keys(rest).length > 0) throw new OAuthError('invalid_request', 'a handed-over request carries only client_id and request_uri: its parameters were pushed');
    let taken: { authSession: string; nativeCallbackUri: string; request: AuthorizationRequest };
    try {
      taken = await this.take(app, clientId, requestUri);
    } catch (e) {
      if (e instanceof OAuthError) this.metrics.handoffs.inc({ step: 'refused' });
      throw e;
    }
    const { authSession, nativeCallbackUri } = taken;
    this.metrics.handoffs.inc({ step: 'taken' });
    this.audit.record({
      type: 'federation.handoff_taken',
      clientId,
      authSession,
      ip: request.ip,
      requestId: request.requestId,
      details: { app: app.client.id, appSession: app.session.authSession },
    });
    // Codes of the native endpoint are answered, never redirected.
    return { ...app, startWith: { ...taken.request, redirectUri: undefined }, handoff: { authSession, nativeCallbackUri } };
  }

  private async take(app: Caller, clientId: string, requestUri: string): Promise<{ authSession: string; nativeCallbackUri: string; request: AuthorizationRequest }> {
    const federating = await this.clients.find(clientId);
    // Refused before the handoff is looked at: another app does not burn it.
    if (!federating?.redirectToApp?.appClientIds.includes(app.client.id)) throw new OAuthError('invalid_request', 'this app may not complete requests handed over for this client');
    const handoff = await this.pushed.consumeHandoff(requestUri, clientId, (p) => {
      if (!p.handoffTo?.includes(app.client.id)) throw new OAuthError('invalid_request', 'this app may not complete this request');
    });
    const nativeCallbackUri = handoff.request.nativeCallbackUri;
    const authSession = handoff.authSession;
    // FED-14: no trusted native_callback_uri, nothing to hand the response back to (never stored so; checked anyway).
    if (nativeCallbackUri === undefined || authSession === undefined) throw new OAuthError('invalid_request', 'the handed-over request has no native_callback_uri');
    const federated = await this.sessions.find(authSession);
    if (!federated || !isUsable(federated, this.clock.nowMs()) || federated.kind !== 'federated' || federated.clientId !== clientId) {
      throw new OAuthError('invalid_request', 'the federated session this request came from has ended');
    }
    return { authSession, nativeCallbackUri, request: handoff.request };
  }
}
