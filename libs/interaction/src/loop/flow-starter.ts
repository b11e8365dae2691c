import { Inject, Injectable } from '@nestjs/common';
import type { ChallengeRegistry } from '@fpa/challenge-kit';
import { ClientRegistry } from '@fpa/clients';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { randomToken } from '@fpa/crypto';
import { audienceFor, grantedScopes } from '@fpa/grants';
import { CLOCK, OAuthError, type Clock } from '@fpa/oauth-core';
import { isUsable, type DeviceSession } from '@fpa/session';
import { normalizeEmail, normalizePhone } from '@fpa/users';
import type { Caller } from '../bindings/caller';
import type { FlowState } from '../flow/flow-state';
import { stringParam, type ChallengeInput } from '../http/challenge-request';
import type { Turn } from './turn';

/** Parameters that start (or restart) a flow: a follow-up carrying any of them is a new authorization request. */
const FLOW_PARAMS = ['scope', 'acr_values', 'max_age', 'code_challenge', 'resource'] as const;
/** What makes a device's request without a flow an authorization request (seed 004: `email=` alone). */
const BEGINS = ['response_type', 'challenge_type', 'email', 'phone', 'login_hint'] as const;

/** Starting a flow: when a request is a new authorization request, and its validated parameters. */
@Injectable()
export class FlowStarter {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly clients: ClientRegistry,
  ) {}

  startsFlow(caller: Caller, input: ChallengeInput, current: FlowState | undefined): boolean {
    if (caller.created || FLOW_PARAMS.some((p) => input[p] !== undefined)) return true;
    return current === undefined && BEGINS.some((p) => input[p] !== undefined);
  }

  newFlow(caller: Caller, input: ChallengeInput): FlowState {
    const method = stringParam(input, 'code_challenge_method');
    const codeChallenge = stringParam(input, 'code_challenge', 128);
    // GEN-2: S256 only; `plain` is refused by policy.
    if (codeChallenge !== undefined && (method ?? 'plain') !== 'S256') throw new OAuthError('invalid_request', 'code_challenge_method must be S256');
    if (codeChallenge !== undefined && !/^[A-Za-z0-9_-]{43}$/.test(codeChallenge)) throw new OAuthError('invalid_request', 'code_challenge must be a base64url SHA-256');
    // A public client's code must be PKCE-protected (RFC 9700 §2.1.1); a device authenticates itself at /token.
    if (caller.mode === 'public' && codeChallenge === undefined) throw new OAuthError('invalid_request', 'code_challenge (S256) is required');
    const responseType = stringParam(input, 'response_type', 32);
    if (responseType !== undefined && responseType !== 'code') throw new OAuthError('invalid_request', 'response_type must be code');
    const maxAgeRaw = stringParam(input, 'max_age', 12);
    if (maxAgeRaw !== undefined && !/^\d{1,9}$/.test(maxAgeRaw)) throw new OAuthError('invalid_request', 'max_age must be a number of seconds');
    const scope = stringParam(input, 'scope', 1024);
    const resource = stringParam(input, 'resource', 512);
    const scopes = grantedScopes(caller.client, scope);
    audienceFor(caller.client, resource, this.config.tokens.defaultAudience);
    const loginHint = stringParam(input, 'login_hint', 320) ?? stringParam(input, 'email', 320) ?? stringParam(input, 'phone', 32);
    return {
      flowId: randomToken(16),
      authSession: caller.session.authSession,
      clientId: caller.client.id,
      mode: caller.mode,
      dpopJkt: caller.jkt,
      request: { scopes, acrValues: stringParam(input, 'acr_values', 1024), maxAge: maxAgeRaw === undefined ? undefined : Number(maxAgeRaw), codeChallenge, loginHint, resource },
      active: undefined,
      createdAt: this.clock.nowMs(),
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
