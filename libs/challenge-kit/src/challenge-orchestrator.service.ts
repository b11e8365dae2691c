import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { ClientRegistry, type Client } from '@fpa/clients';
import { randomToken } from '@fpa/crypto';
import { DpopService, type ValidatedDpopProof } from '@fpa/dpop';
import { audienceFor, grantedScopes } from '@fpa/grants';
import { KeyManager } from '@fpa/keys';
import { EMAIL_SENDER, SMS_SENDER, DeliveryError, SendBudget, type EmailSender, type SmsSender } from '@fpa/messaging';
import { CLOCK, OAuthError, type Clock, type RequestInfo } from '@fpa/oauth-core';
import { AuditService } from '@fpa/platform';
import { ChallengeMetrics } from './challenge.metrics';
import { AuthorizationCodeService, DeviceSessionRepository, isUsable, type DeviceSession } from '@fpa/session';
import { EPHEMERAL_STORE, StoreKeys, enforceRateLimit, ipRateLimitSubject, type EphemeralStore } from '@fpa/store';
import { UsersService, normalizeEmail, normalizePhone, type AuthenticationRecord } from '@fpa/users';
import { CHALLENGE_METHODS, type AuthSessionView, type ChallengeMethod, type ChallengeRegistry, type ChallengeStep, type Delivery, type JsonObject } from './challenge-method';
import { FlowConflict, type ActiveChallenge, type FlowState } from './challenge-flow';
import { decide, policyFor, requestedAcrs, type ChallengePolicy } from './challenge-policy';
import { stringParam, type ChallengeInput } from './challenge-request';
import type { ChallengeStatus } from './openapi/challenge-statuses';

export const CHALLENGE_PATH = '/authorize-challenge';

/** What a verified step leaves behind for the session summary. */
interface StepOutcome {
  readonly user: AuthSessionView['user'];
  readonly verified: readonly string[];
  readonly amr: readonly string[];
  readonly authTime: Date;
}

export interface ChallengeResult {
  readonly status: 200 | 403;
  readonly body: Record<string, unknown>;
  readonly headers: Record<string, string>;
}

/** Parameters that start (or restart) a flow: a follow-up carrying any of them is a new authorization request. */
const FLOW_PARAMS = ['scope', 'acr_values', 'max_age', 'code_challenge', 'resource'] as const;

/** Who is calling, bound to which key, and what this request learned about the session (request-scoped). */
interface Caller {
  readonly client: Client;
  readonly session: DeviceSession;
  readonly mode: 'public' | 'device';
  readonly proof: ValidatedDpopProof;
  /** The session was created by this very request: nothing to read back about it. */
  readonly created: boolean;
  /** The session's authentication records, newest first (read once per request, then kept current). */
  records?: AuthenticationRecord[];
}

/**
 * The authorization challenge endpoint's core (FiPA -04 §5, CONTRACT §5). Alone it stores flow
 * state (Redis, compare-and-set), enforces the DPoP binding of every request (FIPA-26/33), counts
 * attempts, rate-limits per session, client IP and destination, delivers the methods' messages,
 * and decides between `insufficient_authorization`, `redirect_to_web` and an authorization code.
 */
@Injectable()
export class ChallengeOrchestrator {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(EPHEMERAL_STORE) private readonly store: EphemeralStore,
    @Inject(CHALLENGE_METHODS) private readonly methods: ChallengeRegistry,
    @Inject(EMAIL_SENDER) private readonly email: EmailSender,
    @Inject(SMS_SENDER) private readonly sms: SmsSender,
    private readonly clients: ClientRegistry,
    private readonly sessions: DeviceSessionRepository,
    private readonly users: UsersService,
    private readonly codes: AuthorizationCodeService,
    private readonly dpop: DpopService,
    private readonly keys: KeyManager,
    private readonly audit: AuditService,
    private readonly metrics: ChallengeMetrics,
    private readonly budget: SendBudget,
  ) {}

  async handle(input: ChallengeInput, request: RequestInfo): Promise<ChallengeResult> {
    try {
      const result = await this.run(input, request);
      this.metrics.challengeOutcomes.inc({ outcome: result.status === 200 ? 'authorization_code' : String(result.body.error) });
      return result;
    } catch (e) {
      this.metrics.challengeOutcomes.inc({ outcome: e instanceof OAuthError ? e.code : 'error' });
      // Every answer of the flow carries the current nonce (RFC 9449 §8).
      if (e instanceof OAuthError && !e.headers['DPoP-Nonce']) throw e.withHeaders({ 'DPoP-Nonce': this.dpop.currentNonce() });
      throw e;
    }
  }

  private async run(input: ChallengeInput, request: RequestInfo): Promise<ChallengeResult> {
    // FIPA-8: web-only parameters have no meaning here.
    for (const p of ['redirect_uri', 'request_uri', 'response_mode']) {
      if (input[p] !== undefined) throw new OAuthError('invalid_request', `${p} is not used at the authorization challenge endpoint`);
    }
    await enforceRateLimit(this.store, 'challenge-ip', ipRateLimitSubject(request.ip), this.config.challenge.rateLimitIp, 60);
    const caller = await this.identify(input, request);
    try {
      // FIPA-28: per-session limit against guessing.
      await enforceRateLimit(this.store, 'challenge-session', caller.session.authSession, this.config.challenge.rateLimitSession, 60);
      // A flow step is retried when another request for the same session changed the state first.
      for (let attempt = 0; ; attempt++) {
        try {
          return await this.step(caller, input, request);
        } catch (e) {
          if (!(e instanceof FlowConflict) || attempt >= 4) throw e instanceof FlowConflict ? new OAuthError('invalid_request', 'concurrent requests for this auth_session; retry') : e;
        }
      }
    } catch (e) {
      // FIPA-17: once the session exists, errors carry it, so the client can correct the request and go on.
      if (e instanceof OAuthError && e.extra.auth_session === undefined && e.code !== 'server_error') {
        throw new OAuthError(e.code, e.description, { extra: { ...e.extra, auth_session: caller.session.authSession }, headers: e.headers, status: e.status, reason: e.reason, cause: e.cause });
      }
      throw e;
    }
  }

  // --- who is calling, bound to which key ---------------------------------------------------------

  private async identify(input: ChallengeInput, request: RequestInfo): Promise<Caller> {
    const authorization = request.headers.authorization;
    if (typeof authorization === 'string' && /^dpop\s/i.test(authorization)) return this.identifyDevice(input, request, authorization.slice(5).trim());
    if (authorization !== undefined) throw new OAuthError('invalid_request', 'use Authorization: DPoP with a device access token, or no Authorization header');
    return this.identifyPublic(input, request);
  }

  /** (b) A registered device: `Authorization: DPoP <access token>`; user authentication attaches to its session. */
  private async identifyDevice(input: ChallengeInput, request: RequestInfo, token: string): Promise<Caller> {
    const nowMs = this.clock.nowMs();
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await this.keys.verify(token, {
        typ: 'at+jwt',
        issuer: this.config.http.issuer,
        requiredClaims: ['exp', 'jti', 'client_id', 'auth_session'],
        currentDate: new Date(nowMs),
        clockToleranceSeconds: this.config.clockSkewSeconds,
      }));
    } catch {
      throw new OAuthError('invalid_client', 'the access token is invalid or expired', { headers: { 'WWW-Authenticate': 'DPoP error="invalid_token"' } });
    }
    const proof = await this.dpop.validate(request, CHALLENGE_PATH, token);
    if (!proof) throw new OAuthError('invalid_session', 'the device session is bound to the access token\'s DPoP key: send a DPoP proof with every request');
    if ((claims.cnf as { jkt?: unknown } | undefined)?.jkt !== proof.jkt) throw this.dpop.refuse('key_mismatch', 'the DPoP proof key does not match the access token');
    const authSession = String(claims.auth_session);
    if (await this.store.anyFlagged([StoreKeys.revokedAccessToken(String(claims.jti)), StoreKeys.revokedSession(authSession)])) {
      throw new OAuthError('invalid_client', 'the access token is revoked', { headers: { 'WWW-Authenticate': 'DPoP error="invalid_token"' } });
    }
    const given = stringParam(input, 'auth_session');
    if (given !== undefined && given !== authSession) throw new OAuthError('invalid_session', 'auth_session does not match the access token');
    const client = await this.firstParty(String(claims.client_id), stringParam(input, 'client_id'));
    const session = await this.sessions.find(authSession);
    if (!session || !isUsable(session, nowMs) || session.kind !== 'device' || session.clientId !== client.id) {
      throw new OAuthError('invalid_session', 'the device session is unknown, expired or revoked');
    }
    await this.claim(proof);
    return { client, session, mode: 'device', proof, created: false };
  }

  /** (a) A first-party public client with a DPoP proof; the first request creates an auth_session bound to that key. */
  private async identifyPublic(input: ChallengeInput, request: RequestInfo): Promise<Caller> {
    const nowMs = this.clock.nowMs();
    const proof = await this.dpop.validate(request, CHALLENGE_PATH);
    const authSession = stringParam(input, 'auth_session', 128);
    // FIPA-26: a follow-up without a proof for the session's key is refused as invalid_session.
    if (!proof && authSession !== undefined) throw new OAuthError('invalid_session', 'this auth_session is bound to a DPoP key: send a DPoP proof with every request');
    // FIPA-33: DPoP binds the flow and the code; without it there is nothing to bind to.
    if (!proof) throw this.dpop.refuse('missing', 'a DPoP proof is required at the authorization challenge endpoint');
    if (authSession !== undefined) {
      const session = await this.sessions.find(authSession);
      // FIPA-19, FIPA-26: unknown, expired, revoked, or presented with another key → invalid_session.
      if (!session || !isUsable(session, nowMs) || session.kind !== 'challenge' || session.keyJkt !== proof.jkt) {
        throw new OAuthError('invalid_session', 'auth_session is unknown, expired, or bound to another key');
      }
      const client = await this.firstParty(session.clientId, stringParam(input, 'client_id'));
      await this.claim(proof);
      return { client, session, mode: 'public', proof, created: false };
    }
    const clientId = stringParam(input, 'client_id', 128);
    if (!clientId) throw new OAuthError('invalid_request', 'client_id is required (or auth_session for a follow-up)');
    const client = await this.firstParty(clientId, undefined);
    if (client.type !== 'public') throw new OAuthError('unauthorized_client', 'this way in is for public first-party clients');
    // FIPA-10 (-03/-04): response_type is required and must be code.
    if (stringParam(input, 'response_type') !== 'code') throw new OAuthError('invalid_request', 'response_type must be code');
    await this.claim(proof);
    const session: DeviceSession = {
      authSession: randomToken(32),
      clientId: client.id,
      keyJkt: proof.jkt,
      publicJwk: proof.jwk as DeviceSession['publicJwk'],
      keyAlg: 'dpop',
      status: 'active',
      createdAt: new Date(nowMs),
      expiresAt: new Date(nowMs + this.config.challenge.sessionTtlSeconds * 1000),
      kind: 'challenge',
      user: undefined,
    };
    await this.sessions.create({ ...session, registeredIp: request.ip });
    return { client, session, mode: 'public', proof, created: true, records: [] };
  }

  /** FIPA-1 / FIPA-11: only first-party clients; a client_id sent anyway must match. */
  private async firstParty(clientId: string, claimed: string | undefined): Promise<Client> {
    if (claimed !== undefined && claimed !== clientId) throw new OAuthError('invalid_request', 'client_id does not match the session');
    const client = await this.clients.find(clientId);
    if (!client) throw new OAuthError('invalid_client', 'unknown or disabled client');
    if (!client.firstParty || !client.grantTypes.includes('authorization_code')) {
      throw new OAuthError('unauthorized_client', 'the authorization challenge endpoint is for first-party clients');
    }
    return client;
  }

  private async claim(proof: ValidatedDpopProof): Promise<void> {
    const [ok] = await this.store.claimEachOnce([proof.replayClaim]);
    if (!ok) throw this.dpop.refuse('replay', 'DPoP proof jti was already used');
  }

  // --- one step of the flow -----------------------------------------------------------------------

  private async step(caller: Caller, input: ChallengeInput, request: RequestInfo): Promise<ChallengeResult> {
    const key = StoreKeys.challengeFlow(caller.session.authSession);
    const stored = caller.created ? undefined : await this.store.getVersioned<FlowState>(key);
    const restart = caller.created || !stored || FLOW_PARAMS.some((p) => input[p] !== undefined);
    const flow: FlowState = restart ? this.newFlow(caller, input) : stored.value;
    const version = stored?.version ?? 0;
    // FIPA-26: the flow is bound to the first request's DPoP key.
    if (flow.dpopJkt !== caller.proof.jkt) throw new OAuthError('invalid_session', 'this auth_session is bound to another DPoP key');

    const policy = policyFor(caller.client.challengePolicy, [...this.methods.keys()].filter((m) => this.config.challenge.methods.includes(m)));
    const requested = requestedAcrs(policy, flow.request.acrValues);
    const view = await this.view(caller, flow);
    const decision = decide(policy, requested, view.verifiedMethods);
    const explicit = stringParam(input, 'challenge_type', 64);
    const action = stringParam(input, 'action', 32);
    const active = restart ? undefined : flow.active;

    // An answer to the challenge in progress.
    if (active && (explicit === undefined || explicit === active.method) && action === undefined) {
      return this.answer(caller, flow, version, key, active, view, input, policy, requested, request);
    }
    // An answer with nothing to answer: a one-time code used again, or after the challenge was burned or expired.
    if (!active && explicit === undefined && action === undefined && (input.code !== undefined || input.credential !== undefined)) {
      throw new OAuthError('invalid_request', 'no challenge is in progress for this auth_session (a code is accepted once); start a new one');
    }
    // A method to begin: named, or inferred from what the client sent (seed 004: `email=`).
    const methodId = explicit ?? this.infer(input, view, decision.open);
    if (methodId !== undefined) {
      return this.begin(caller, restart ? { ...flow, active: undefined } : flow, version, key, methodId, view, input, policy, requested, decision.open, request);
    }
    if (decision.satisfiedAcr) return this.issueCode(caller, flow, version, key, decision.satisfiedAcr, request);
    return this.needMore(caller, flow, version, key, view, decision.open, 'method_required');
  }

  private newFlow(caller: Caller, input: ChallengeInput): FlowState {
    const method = stringParam(input, 'code_challenge_method');
    const codeChallenge = stringParam(input, 'code_challenge', 128);
    // GEN-2: S256 only; `plain` is refused by policy.
    if (codeChallenge !== undefined && (method ?? 'plain') !== 'S256') throw new OAuthError('invalid_request', 'code_challenge_method must be S256');
    if (codeChallenge !== undefined && !/^[A-Za-z0-9_-]{43}$/.test(codeChallenge)) throw new OAuthError('invalid_request', 'code_challenge must be a base64url SHA-256');
    // A public client's code must be PKCE-protected (RFC 9700 §2.1.1); a device authenticates itself at /token.
    if (caller.mode === 'public' && codeChallenge === undefined) throw new OAuthError('invalid_request', 'code_challenge (S256) is required');
    const maxAgeRaw = stringParam(input, 'max_age', 12);
    if (maxAgeRaw !== undefined && !/^\d{1,9}$/.test(maxAgeRaw)) throw new OAuthError('invalid_request', 'max_age must be a number of seconds');
    const scope = stringParam(input, 'scope', 1024);
    const resource = stringParam(input, 'resource', 512);
    const scopes = grantedScopes(caller.client, scope);
    audienceFor(caller.client, resource, this.config.tokens.defaultAudience);
    const loginHint = stringParam(input, 'login_hint', 320) ?? stringParam(input, 'email', 320) ?? stringParam(input, 'phone', 32);
    return {
      authSession: caller.session.authSession,
      clientId: caller.client.id,
      mode: caller.mode,
      dpopJkt: caller.proof.jkt,
      request: { scopes, acrValues: stringParam(input, 'acr_values', 1024), maxAge: maxAgeRaw === undefined ? undefined : Number(maxAgeRaw), codeChallenge, loginHint, resource },
      active: undefined,
      createdAt: this.clock.nowMs(),
    };
  }

  private async view(caller: Caller, flow: FlowState): Promise<AuthSessionView> {
    caller.records ??= await this.users.sessionAuthentications(caller.session.authSession);
    const fresh = this.inWindow(caller.records, flow);
    const userId = caller.session.user?.userId;
    const user = userId ? await this.users.find(userId) : undefined;
    return {
      authSession: caller.session.authSession,
      clientId: caller.client.id,
      mode: caller.mode,
      user: user ? { id: user.id, email: user.email, phone: user.phone } : undefined,
      verifiedMethods: [...new Set(fresh.map((r) => r.method))],
      loginHint: flow.request.loginHint,
    };
  }

  /** The records that count for this flow (max_age, FIPA-13). */
  private inWindow(records: readonly AuthenticationRecord[], flow: FlowState): AuthenticationRecord[] {
    const maxAge = flow.request.maxAge;
    if (maxAge === undefined) return [...records];
    const since = this.clock.nowMs() - maxAge * 1000;
    return records.filter((r) => r.authenticatedAt.getTime() >= since);
  }

  /** An email or phone the client sent (or the login_hint) picks the matching OTP method. */
  private infer(input: ChallengeInput, view: AuthSessionView, open: readonly string[]): string | undefined {
    if (input.email !== undefined && this.methods.has('email_otp')) return 'email_otp';
    if (input.phone !== undefined && this.methods.has('sms_otp')) return 'sms_otp';
    const hint = view.loginHint;
    if (hint && open.includes('email_otp') && normalizeEmail(hint)) return 'email_otp';
    if (hint && open.includes('sms_otp') && normalizePhone(hint)) return 'sms_otp';
    return undefined;
  }

  private method(id: string, policy: ChallengePolicy): ChallengeMethod {
    const m = this.methods.get(id);
    if (!m || !policy.methods.includes(id)) throw new OAuthError('invalid_request', 'unknown or disabled challenge_type');
    return m;
  }

  private async begin(
    caller: Caller,
    flow: FlowState,
    version: number,
    key: string,
    methodId: string,
    view: AuthSessionView,
    input: ChallengeInput,
    policy: ChallengePolicy,
    requested: readonly string[],
    open: readonly string[],
    request: RequestInfo,
  ): Promise<ChallengeResult> {
    const method = this.method(methodId, policy);
    // With an action (enrol, register, resend) the module judges the request in begin.
    if (input.action === undefined && !(await method.appliesTo(view))) {
      return this.needMore(caller, flow, version, key, view, open, 'method_unavailable', { challenge_type: methodId });
    }
    const step = await method.begin(view, input);
    return this.apply(caller, { ...flow, active: undefined }, version, key, method, step, undefined, view, policy, requested, request, flow);
  }

  private async answer(
    caller: Caller,
    flow: FlowState,
    version: number,
    key: string,
    active: ActiveChallenge,
    view: AuthSessionView,
    input: ChallengeInput,
    policy: ChallengePolicy,
    requested: readonly string[],
    request: RequestInfo,
  ): Promise<ChallengeResult> {
    const method = this.method(active.method, policy);
    if (this.clock.nowMs() >= active.expiresAt) {
      this.metrics.challengeSteps.inc({ method: method.id, outcome: 'expired' });
      return this.needMore(caller, { ...flow, active: undefined }, version, key, view, await this.openFor(policy, requested, view), 'expired', { challenge_type: method.id });
    }
    const step = await method.answer(view, active.state, input);
    return this.apply(caller, flow, version, key, method, step, active, view, policy, requested, request);
  }

  /** What to do with a method's step: store and prompt, count a wrong answer, or record a success. */
  private async apply(
    caller: Caller,
    flow: FlowState,
    version: number,
    key: string,
    method: ChallengeMethod,
    step: ChallengeStep,
    active: ActiveChallenge | undefined,
    view: AuthSessionView,
    policy: ChallengePolicy,
    requested: readonly string[],
    request: RequestInfo,
    /** The flow as it was before this request (a failed resend keeps the code already delivered). */
    before: FlowState = flow,
  ): Promise<ChallengeResult> {
    const nowMs = this.clock.nowMs();
    if (step.kind === 'prompt') {
      const next: ActiveChallenge = { method: method.id, state: step.state, attempts: active?.attempts ?? 0, expiresAt: nowMs + step.expiresInSeconds * 1000 };
      const release = step.delivery ? await this.throttle(step.delivery, method.id, caller.client.id) : undefined;
      await this.save(key, version, { ...flow, active: next });
      if (step.delivery) {
        try {
          await this.deliver(step.delivery);
        } catch (e) {
          // Nothing was sent: put the flow back as it was and give the resend slot back.
          await this.store.compareAndSet(key, version + 1, before, this.config.challenge.flowTtlSeconds).catch(() => undefined);
          await release?.();
          this.metrics.challengeSteps.inc({ method: method.id, outcome: 'undeliverable' });
          throw new OAuthError('temporarily_unavailable', `the ${step.delivery.channel === 'email' ? 'email' : 'SMS'} could not be sent; retry later`, {
            headers: { 'Retry-After': '5' },
            cause: e,
          });
        }
      }
      this.metrics.challengeSteps.inc({ method: method.id, outcome: step.delivery ? 'code_sent' : 'prompted' });
      return this.respond403(caller, 'insufficient_authorization', { ...step.reply, challenge_type: method.id, expires_in: step.expiresInSeconds }, await this.openFor(policy, requested, view));
    }
    if (step.kind === 'rejected') {
      if (step.reason === 'invalid_input' || !active) throw new OAuthError('invalid_request', step.description ?? `the ${method.id} request is incomplete`);
      const attempts = active.attempts + 1;
      const burned = attempts >= this.config.challenge.maxAttempts || step.reason === 'expired';
      await this.save(key, version, { ...flow, active: burned ? undefined : { ...active, attempts } });
      this.metrics.challengeSteps.inc({ method: method.id, outcome: burned && step.reason !== 'expired' ? 'burned' : step.reason });
      this.audit.record({ type: 'challenge.failed', outcome: 'failure', clientId: caller.client.id, authSession: caller.session.authSession, ip: request.ip, requestId: request.requestId, details: { method: method.id, reason: step.reason, attempts } });
      const status: ChallengeStatus = burned ? (step.reason === 'expired' ? 'expired' : 'attempts_exceeded') : 'invalid_code';
      const extra: JsonObject = burned ? { challenge_type: method.id, status } : { challenge_type: method.id, status, attempts_remaining: this.config.challenge.maxAttempts - attempts };
      return this.respond403(caller, 'insufficient_authorization', extra, await this.openFor(policy, requested, view));
    }
    // Verified: consume the challenge first, so two racing correct answers cannot both count.
    await this.save(key, version, { ...flow, active: undefined });
    const enrolment = step.credential?.action === 'add';
    const outcome = await this.recordSuccess(caller, method, step, request);
    // An enrolment stores a credential; it authenticates nothing, so the policy sees no new method.
    const nextView: AuthSessionView = enrolment ? { ...view, user: outcome.user } : { ...view, user: outcome.user, verifiedMethods: [method.id, ...view.verifiedMethods.filter((m) => m !== method.id)] };
    const decision = decide(policy, requested, nextView.verifiedMethods);
    if (decision.satisfiedAcr) return this.issueCode(caller, { ...flow, active: undefined }, version + 1, key, decision.satisfiedAcr, request, outcome);
    if (!enrolment) await this.attach(caller, outcome, null);
    return this.needMore(caller, { ...flow, active: undefined }, version + 1, key, nextView, await this.openFor(policy, requested, nextView), enrolment ? 'enrolled' : 'additional_method_required', {
      completed: method.id,
    });
  }

  /**
   * Persists a verified step: the user (found or created), the credential change, the
   * authentication record. Linking the session to the user is left to the caller, which knows
   * whether a code follows (one update either way).
   */
  private async recordSuccess(caller: Caller, method: ChallengeMethod, step: Extract<ChallengeStep, { kind: 'verified' }>, request: RequestInfo): Promise<StepOutcome> {
    const now = new Date(this.clock.nowMs());
    if (step.credential?.action === 'use') {
      const fresh = await this.users.recordCredentialUse(step.credential.method, step.credential.credentialId, now, step.credential.counter);
      // A TOTP code or an assertion counts once: a second use of the same step/counter is refused.
      if (!fresh) throw new OAuthError('access_denied', 'this code or assertion was already used');
    }
    const user = await this.users.resolve(step.subject, now);
    if (!user) throw new OAuthError('access_denied', 'unknown user');
    const current = caller.session.user;
    if (current && current.userId !== user.id) throw new OAuthError('access_denied', 'this auth_session belongs to another user');
    const view = { id: user.id, email: user.email, phone: user.phone };
    if (step.credential?.action === 'add') {
      // Enrolment: only for the user this session already verified by another method.
      if (!current) throw new OAuthError('access_denied', 'enrolment needs a user verified in this session');
      if (!(await this.users.addCredential(user.id, step.credential.credential, now))) throw new OAuthError('invalid_request', 'this credential is already registered');
      this.metrics.challengeSteps.inc({ method: method.id, outcome: 'enrolled' });
      this.audit.record({ type: 'credential.enrolled', clientId: caller.client.id, authSession: caller.session.authSession, subject: user.id, ip: request.ip, requestId: request.requestId, details: { method: method.id } });
      return { user: view, verified: current.verified, amr: current.amr, authTime: current.authTime };
    }
    await this.users.recordAuthentication({ userId: user.id, authSession: caller.session.authSession, method: method.id, amr: step.amr, verifiedValue: step.verifiedValue ?? null, at: now });
    caller.records = [{ method: method.id, amr: step.amr, userId: user.id, authenticatedAt: now }, ...(caller.records ?? [])];
    const verified = new Set(current?.verified ?? []);
    if (step.subject.type === 'email') verified.add('email');
    if (step.subject.type === 'phone') verified.add('phone');
    this.metrics.challengeSteps.inc({ method: method.id, outcome: 'verified' });
    this.audit.record({ type: 'challenge.verified', clientId: caller.client.id, authSession: caller.session.authSession, subject: user.id, ip: request.ip, requestId: request.requestId, details: { method: method.id, amr: [...step.amr] } });
    return { user: view, verified: [...verified], amr: [...new Set([...(current?.amr ?? []), ...step.amr])], authTime: now };
  }

  /** Links the session to the user with its authentication summary (what later tokens carry). */
  private async attach(caller: Caller, o: StepOutcome, acr: string | null, expiresAt?: Date): Promise<void> {
    const attached = await this.sessions.attachUser(caller.session.authSession, { userId: o.user!.id, authTime: o.authTime, amr: o.amr, acr, verified: o.verified }, expiresAt);
    if (!attached) throw new OAuthError('access_denied', 'this auth_session belongs to another user');
  }

  /** FIPA-15/16: the collected information suffices — a single-use code bound to client, session, PKCE and DPoP key. */
  private async issueCode(caller: Caller, flow: FlowState, version: number, key: string, acr: string, request: RequestInfo, outcome?: StepOutcome): Promise<ChallengeResult> {
    const now = new Date(this.clock.nowMs());
    caller.records ??= await this.users.sessionAuthentications(caller.session.authSession);
    const inWindow = this.inWindow(caller.records, flow);
    const userId = outcome?.user?.id ?? caller.session.user?.userId ?? inWindow[0]?.userId;
    if (!userId) throw new OAuthError('server_error', undefined, { reason: 'satisfied without a user' });
    const methods = new Set(inWindow.map((r) => r.method));
    const amr = [...new Set(inWindow.flatMap((r) => r.amr))];
    if (methods.size >= 2 && !amr.includes('mfa')) amr.push('mfa');
    const authTime = inWindow[0]?.authenticatedAt ?? now;
    const verified = outcome?.verified ?? caller.session.user?.verified ?? [];
    // One update: the user, the summary later tokens carry, and (for a challenge session) a device session's lifetime.
    await this.attach(caller, { user: { id: userId, email: null, phone: null }, verified, amr, authTime }, acr, new Date(now.getTime() + this.config.tokens.deviceSessionTtl * 1000));
    const code = await this.codes.issue(
      {
        clientId: caller.client.id,
        authSession: caller.session.authSession,
        userId,
        dpopJkt: flow.dpopJkt,
        codeChallenge: flow.request.codeChallenge ?? null,
        scope: flow.request.scopes.join(' '),
        resource: flow.request.resource ?? null,
        acr,
        amr,
        authTime,
      },
      now,
    );
    // The flow is complete. If another request moved it on meanwhile, its state simply expires; the code is bound either way.
    await this.store.compareAndDelete(key, version);
    this.audit.record({ type: 'challenge.code_issued', clientId: caller.client.id, authSession: caller.session.authSession, subject: userId, ip: request.ip, requestId: request.requestId, details: { acr, amr } });
    return { status: 200, body: { authorization_code: code, auth_session: caller.session.authSession }, headers: { 'DPoP-Nonce': this.dpop.currentNonce() } };
  }

  /** 403 insufficient_authorization with what to collect next — or redirect_to_web when no native method can. */
  private async needMore(caller: Caller, flow: FlowState, version: number, key: string, view: AuthSessionView, open: readonly string[], status: ChallengeStatus, extra: JsonObject = {}): Promise<ChallengeResult> {
    await this.save(key, version, flow);
    const available = await this.applicable(open, view);
    if (available.length === 0) return this.redirectToWeb(caller, flow);
    return this.respond403(caller, 'insufficient_authorization', { status, ...extra }, available);
  }

  /** FIPA-21: a `request_uri` (PAR semantics, FIPA-22) only when the request carried a code_challenge. */
  private async redirectToWeb(caller: Caller, flow: FlowState): Promise<ChallengeResult> {
    this.metrics.challengeOutcomes.inc({ outcome: 'redirect_to_web_decided' });
    const extra: Record<string, unknown> = {};
    if (flow.request.codeChallenge) {
      const reference = randomToken(32);
      const expiresIn = 60;
      await this.store.setJson(
        StoreKeys.pushedRequest(reference),
        {
          client_id: caller.client.id,
          response_type: 'code',
          scope: flow.request.scopes.join(' '),
          code_challenge: flow.request.codeChallenge,
          code_challenge_method: 'S256',
          acr_values: flow.request.acrValues,
          login_hint: flow.request.loginHint,
          dpop_jkt: flow.dpopJkt,
          auth_session: caller.session.authSession,
        },
        expiresIn,
      );
      extra.request_uri = `urn:ietf:params:oauth:request_uri:${reference}`;
      extra.expires_in = expiresIn;
    }
    return { status: 403, body: { error: 'redirect_to_web', error_description: 'no native method can complete this request; continue in a browser', auth_session: caller.session.authSession, ...extra }, headers: { 'DPoP-Nonce': this.dpop.currentNonce() } };
  }

  private respond403(caller: Caller, error: string, members: JsonObject, methods: readonly string[]): ChallengeResult {
    return {
      status: 403,
      body: { error, auth_session: caller.session.authSession, ...members, methods: [...methods] },
      headers: { 'DPoP-Nonce': this.dpop.currentNonce() },
    };
  }

  private async openFor(policy: ChallengePolicy, requested: readonly string[], view: AuthSessionView): Promise<string[]> {
    return this.applicable(decide(policy, requested, view.verifiedMethods).open, view);
  }

  private async applicable(ids: readonly string[], view: AuthSessionView): Promise<string[]> {
    const out: string[] = [];
    for (const id of ids) {
      const m = this.methods.get(id);
      if (m && (await m.appliesTo(view))) out.push(id);
    }
    return out;
  }

  private async save(key: string, version: number, flow: FlowState): Promise<void> {
    if (!(await this.store.compareAndSet(key, version, flow, this.config.challenge.flowTtlSeconds))) throw new FlowConflict();
  }

  /**
   * Resend throttle and hourly cap per destination (issue 3: "per destination"). Returns a release
   * for the resend slot, used when the message could not be sent. The hourly cap counts attempts.
   */
  private async throttle(delivery: Delivery, method: string, clientId: string): Promise<() => Promise<void>> {
    const { resendSeconds, rateLimitDestination } = this.config.challenge;
    const slot = StoreKeys.rateLimit('challenge-resend', delivery.to);
    if (resendSeconds > 0 && !(await this.store.claimOnce(slot, resendSeconds))) {
      this.metrics.challengeSteps.inc({ method, outcome: 'throttled' });
      throw new OAuthError('slow_down', `a code was just sent there; retry in ${resendSeconds} seconds`, { headers: { 'Retry-After': String(resendSeconds) } });
    }
    await enforceRateLimit(this.store, 'challenge-destination', delivery.to, rateLimitDestination, 3600);
    // Issue 7 finding 10: the client's and the global hourly send budgets; given back with the slot when nothing was sent.
    const spent = await this.budget.consume(delivery.channel, clientId).catch(async (e: unknown) => {
      await this.store.delete(slot).catch(() => undefined);
      throw e;
    });
    return async () => {
      await this.store.delete(slot).catch(() => undefined);
      await spent.giveBack();
    };
  }

  private async deliver(d: Delivery): Promise<void> {
    try {
      if (d.channel === 'email') await this.email.send({ to: d.to, subject: d.subject ?? 'Your sign-in code', text: d.text });
      else await this.sms.send({ to: d.to, text: d.text });
    } catch (e) {
      if (e instanceof DeliveryError) throw e;
      throw new DeliveryError(d.channel, 'delivery failed', { cause: e });
    }
  }
}
