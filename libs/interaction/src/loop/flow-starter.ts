import { Inject, Injectable } from '@nestjs/common';
import type { ChallengeRegistry } from '@fpa/challenge-kit';
import { AuthorizationDetailsRegistry, NativeCallbackTrust, PushedRequests, parseAuthorizationRequest, type AuthorizationRequest } from '@fpa/authz-request';
import { ClientRegistry } from '@fpa/clients';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { randomToken } from '@fpa/crypto';
import { CLOCK, OAuthError, type Clock } from '@fpa/oauth-core';
import { isUsable, type DeviceSession } from '@fpa/session';
import { normalizeEmail, normalizePhone } from '@fpa/users';
import type { Caller } from '../bindings/caller';
import type { FlowState } from '../flow/flow-state';
import type { ChallengeInput } from '../http/challenge-request';
import type { Turn } from './turn';

/** Parameters that start (or restart) a flow: a follow-up carrying any of them is a new authorization request. */
const FLOW_PARAMS = ['scope', 'acr_values', 'max_age', 'code_challenge', 'resource', 'authorization_details', 'request_uri'] as const;
/** What makes a device's request without a flow an authorization request (seed 004: `email=` alone). */
const BEGINS = ['response_type', 'challenge_type', 'email', 'phone', 'login_hint'] as const;

/** Starting a flow: when a request is a new authorization request, and its validated parameters. */
@Injectable()
export class FlowStarter {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly clients: ClientRegistry,
    private readonly details: AuthorizationDetailsRegistry,
    private readonly pushed: PushedRequests,
    private readonly trust: NativeCallbackTrust,
  ) {}

  startsFlow(caller: Caller, input: ChallengeInput, current: FlowState | undefined): boolean {
    if (caller.created || caller.startWith !== undefined || FLOW_PARAMS.some((p) => input[p] !== undefined)) return true;
    return current === undefined && BEGINS.some((p) => input[p] !== undefined);
  }

  /**
   * A new flow for a request validated like every authorization request (libs/authz-request) — or
   * for the pushed request its `request_uri` names (PAR-10, FIPA-22; a downstream server receives
   * `client_id` + `request_uri` at its native endpoint), consumed once, for this client only.
   */
  async newFlow(caller: Caller, input: ChallengeInput): Promise<FlowState> {
    const requestUri = input.request_uri;
    let request: AuthorizationRequest;
    if (caller.startWith) {
      request = caller.startWith;
    } else if (requestUri !== undefined) {
      if (typeof requestUri !== 'string' || Object.keys(input).some((k) => !['request_uri', 'client_id', 'auth_session'].includes(k))) {
        throw new OAuthError('invalid_request', 'a request_uri request carries only client_id (and auth_session): its parameters were pushed');
      }
      const pushed = (
        await this.pushed.consume(requestUri, caller.client.id, ({ request: p }) => {
          // RFC 9449 §10.1 (DPOP-31): a key named when the request was pushed is the key of the flow;
          // checked before it is taken, so another key neither uses nor burns it. A federated caller
          // (FED-11) is the end user's app: the pushed key is the federating client's, for the code only.
          if (caller.mode !== 'federated' && p.dpopJkt !== undefined && p.dpopJkt !== caller.jkt) throw new OAuthError('invalid_dpop_proof', 'the DPoP key differs from the one the request was pushed with');
        })
      ).request;
      if (pushed.codeChallenge === undefined && caller.mode === 'public') throw new OAuthError('invalid_request', 'code_challenge (S256) is required');
      // Codes of the native endpoint are returned in its answer, never redirected.
      request = { ...pushed, redirectUri: undefined };
    } else {
      if (caller.mode === 'federated') throw new OAuthError('invalid_request', 'a federating client’s request must be pushed (request_uri)');
      request = parseAuthorizationRequest(caller.client, input, { channel: caller.mode === 'device' ? 'native_device' : 'native_public', defaultAudience: this.config.tokens.defaultAudience, details: this.details });
      // FED-3/FED-4: trusted (allow-list, or another policy) before the flow is stored.
      if (request.nativeCallbackUri !== undefined) await this.trust.assertTrusted(caller.client, request.nativeCallbackUri);
    }
    return {
      flowId: randomToken(16),
      authSession: caller.session.authSession,
      clientId: caller.client.id,
      mode: caller.mode,
      dpopJkt: caller.jkt,
      request,
      active: undefined,
      createdAt: this.clock.nowMs(),
      ...(caller.handoff ? { handoff: caller.handoff } : {}),
    };
  }

  /** An email or phone the client sent picks the matching OTP method; so does the login_hint of a request that starts a flow, when that method can still help. */
  async infer(input: ChallengeInput, turn: Turn, methods: ChallengeRegistry, open: () => Promise<readonly string[]>): Promise<string | undefined> {
    if (input.email !== undefined && methods.has('email_otp')) return 'email_otp';
    if (input.phone !== undefined && methods.has('sms_otp')) return 'sms_otp';
    const hint = turn.flow.request.loginHint;
    if (!hint || !turn.started) return undefined;
    const helpful = await open();
    if (helpful.includes('email_otp') && normalizeEmail(hint)) return 'email_otp';
    if (helpful.includes('sms_otp') && normalizePhone(hint)) return 'sms_otp';
    return undefined;
  }

  /** The caller a `resume` acts for: the flow's own session, key and client (nothing is taken from the request). */
  async callerFor(session: DeviceSession, flow: FlowState): Promise<Caller> {
    if (!isUsable(session, this.clock.nowMs())) throw new OAuthError('invalid_session', 'the auth_session is expired or revoked');
    const client = await this.clients.find(session.clientId);
    if (!client || client.id !== flow.clientId) throw new OAuthError('invalid_session', 'the client of this auth_session is gone');
    return { client, session, mode: flow.mode, jkt: flow.dpopJkt, created: false };
  }
}
