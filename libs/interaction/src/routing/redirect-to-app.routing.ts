import { Inject, Injectable } from '@nestjs/common';
import { PushedRequests } from '@fpa/authz-request';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { AuditService } from '@fpa/platform';
import { FlowConflict } from '../flow/flow-state';
import { FlowStore } from '../flow/flow-store';
import { InteractionMetrics } from '../interaction.metrics';
import type { EndpointOutcome } from '../loop/outcome';
import type { Turn } from '../loop/turn';
import type { RoutingRule } from './routing';

/**
 * FED-8 at a downstream server: a client whose definition has `redirect_to_app` (policy data, per
 * federating client) gets its requests handed over to this server's own app — only when the request
 * carries a trusted `native_callback_uri` (FED-14: the app must have somewhere to hand the response
 * back; without one the local methods go on). On the flow's first turn it stores a single-use,
 * short-lived handoff (PushedRequests, taken only by `consumeHandoff` and only by a listed app),
 * ends the flow, and answers `redirect_to_app` with `deep_link?client_id=…&request_uri=…`.
 * The browser never gets it (it has no app to launch), nor the app completing a handoff.
 */
@Injectable()
export class RedirectToAppRouting implements RoutingRule {
  readonly name = 'redirect_to_app';

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly pushed: PushedRequests,
    private readonly flows: FlowStore,
    private readonly metrics: InteractionMetrics,
    private readonly audit: AuditService,
  ) {}

  async route(turn: Turn): Promise<EndpointOutcome | undefined> {
    const { caller, flow } = turn;
    const policy = caller.client.redirectToApp;
    if (!policy || !turn.started || caller.mode === 'browser' || flow.handoff || flow.request.nativeCallbackUri === undefined) return undefined;
    const authSession = caller.session.authSession;
    // The session the code will be issued for must exist before anything refers to it.
    await caller.pending?.persist();
    const { requestUri, expiresIn } = await this.pushed.push({ request: flow.request, authSession, handoffTo: policy.appClientIds }, this.config.authorization.parRequestUriTtlSeconds);
    // This flow ends here: a new one replaced the stored one (compare-and-delete against it), and it is not stored itself.
    if (!(await this.flows.complete(authSession, turn.version))) throw new FlowConflict();
    turn.dirty = false;
    const link = new URL(policy.deepLink);
    link.searchParams.set('client_id', caller.client.id);
    link.searchParams.set('request_uri', requestUri);
    this.metrics.handoffs.inc({ step: 'issued' });
    this.audit.record({
      type: 'federation.redirect_to_app',
      clientId: caller.client.id,
      authSession,
      ip: turn.request.ip,
      requestId: turn.request.requestId,
      details: { apps: [...policy.appClientIds], mode: caller.mode },
    });
    return { kind: 'redirect_to_app', authSession, deepLink: link.toString(), expiresIn };
  }
}
