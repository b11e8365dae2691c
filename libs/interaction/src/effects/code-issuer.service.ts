import { Inject, Injectable } from '@nestjs/common';
import type { Satisfaction } from '@fpa/assurance';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { CLOCK, OAuthError, type Clock } from '@fpa/oauth-core';
import { AuditService } from '@fpa/platform';
import { AuthorizationCodeService } from '@fpa/session';
import { FlowConflict, type FlowState } from '../flow/flow-state';
import { FlowStore } from '../flow/flow-store';
import type { EndpointOutcome } from '../loop/outcome';
import { SessionFacts } from '../loop/session-facts.service';
import type { Turn } from '../loop/turn';

/**
 * The code issuer port (FIPA-15/16): a single-use code bound to the client, the session, the PKCE
 * challenge and the DPoP key, carrying the `acr`, `amr` and `auth_time` of exactly the events that
 * satisfied the policy (finding 4). The session is extended only when a user authenticated in this
 * flow, and never past its absolute lifetime (finding 5).
 */
@Injectable()
export class CodeIssuer {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly codes: AuthorizationCodeService,
    private readonly flows: FlowStore,
    private readonly facts: SessionFacts,
    private readonly audit: AuditService,
  ) {}

  async issue(turn: Turn, satisfied: Satisfaction): Promise<Extract<EndpointOutcome, { kind: 'code' }>> {
    const now = new Date(this.clock.nowMs());
    const user = await this.facts.user(turn);
    if (!user) throw new OAuthError('server_error', undefined, { reason: 'satisfied without a user' });
    const { flow, caller } = turn;
    const interacted = (await this.facts.events(turn)).some((e) => e.flowId === flow.flowId);
    const verified = [...(user.emailVerified ? ['email'] : []), ...(user.phoneVerified ? ['phone'] : [])];
    // One code per flow: the flow ends first, by compare-and-set, so a request that raced this one
    // (and moved the flow) retries instead of both minting a code.
    if (!(await this.flows.complete(caller.session.authSession, turn.version))) throw new FlowConflict();
    // FED-14/FED-15: a handoff's code is the federating client's (its request, its session); otherwise the caller's.
    const codeSession = flow.handoff?.authSession ?? caller.session.authSession;
    const code = await this.codes.issueForSession(
      {
        clientId: flow.request.clientId,
        authSession: codeSession,
        userId: user.id,
        dpopJkt: codeKey(flow),
        codeChallenge: flow.request.codeChallenge ?? null,
        scope: flow.request.scopes.join(' '),
        resource: flow.request.resource ?? null,
        acr: satisfied.acr,
        amr: satisfied.amr,
        authTime: new Date(satisfied.authTimeMs),
        redirectUri: flow.request.redirectUri ?? null,
        authorizationDetails: flow.request.authorizationDetails ? [...flow.request.authorizationDetails] : null,
      },
      verified,
      interacted ? new Date(now.getTime() + this.config.sessions.idleSeconds * 1000) : null,
      now,
    );
    if (!code) throw new OAuthError('invalid_session', 'the auth_session expired, was revoked, or belongs to another user');
    this.audit.record({
      type: 'challenge.code_issued',
      clientId: flow.request.clientId,
      authSession: codeSession,
      subject: user.id,
      ip: turn.request.ip,
      requestId: turn.request.requestId,
      details: { acr: satisfied.acr, amr: [...satisfied.amr], interacted, mode: flow.mode, ...(flow.handoff ? { handoffBy: caller.client.id } : {}) },
    });
    return { kind: 'code', authSession: caller.session.authSession, authorizationCode: code, ...(flow.handoff ? { nativeCallbackUri: flow.handoff.nativeCallbackUri } : {}) };
  }
}

/**
 * The key the code is bound to. FIPA-33: a native code, the flow's DPoP key. RFC 9449 §10: a browser
 * code, the key its request named, if any; so is a federated flow's or a handoff's (FED-11) — the
 * federating client redeems it with the key it pushed (`dpop_jkt`), never the end user's app key.
 */
export function codeKey(flow: FlowState): string | null {
  if (flow.mode === 'browser' || flow.mode === 'federated' || flow.handoff) return flow.request.dpopJkt ?? null;
  return flow.dpopJkt;
}
