import { Inject, Injectable } from '@nestjs/common';
import { acrPolicyFor, requestedAcrs } from '@fpa/assurance';
import { CHALLENGE_METHODS, type ChallengeRegistry, type JsonObject } from '@fpa/challenge-kit';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { OAuthError, type RequestInfo } from '@fpa/oauth-core';
import { DeviceSessionRepository } from '@fpa/session';
import { EPHEMERAL_STORE, enforceRateLimit, ExceededLimits, ipRateLimitSubject, rateLimited, rateLimitHit, type EphemeralStore, type RateLimitHit } from '@fpa/store';
import type { Caller } from '../bindings/caller';
import { CallerBindings } from '../bindings/caller-bindings.service';
import { FlowConflict, type FlowState } from '../flow/flow-state';
import { FlowStore, type LoadedFlow } from '../flow/flow-store';
import type { ChallengeInput } from '../http/challenge-request';
import { InteractionMetrics } from '../interaction.metrics';
import { ROUTING_RULES, type RoutingRule } from '../routing/routing';
import { FlowStarter } from './flow-starter';
import type { EndpointOutcome } from './outcome';
import { StepRunner } from './step-runner.service';
import type { Turn } from './turn';

/** Web-only parameters have no meaning at the native endpoint (FIPA-8); `request_uri` names a pushed request (PAR-10). */
const WEB_ONLY = ['redirect_uri', 'response_mode'] as const;
const MAX_CONFLICT_RETRIES = 4;

/**
 * The interaction loop (STYLE.md "How the native endpoint grows"): bind the caller, rate-limit,
 * load the flow (compare-and-set, retry on conflict), let routing speak, run one step, store,
 * return an outcome. It owns nothing else; `resume` is the way back in from outside.
 */
@Injectable()
export class InteractionLoop {
  /** Addresses this process saw over `CHALLENGE_RATE_LIMIT_IP`: refused before their binding's work. */
  private readonly exceeded = new ExceededLimits();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(EPHEMERAL_STORE) private readonly store: EphemeralStore,
    @Inject(CHALLENGE_METHODS) private readonly methods: ChallengeRegistry,
    @Inject(ROUTING_RULES) private readonly routing: readonly RoutingRule[],
    private readonly bindings: CallerBindings,
    private readonly flows: FlowStore,
    private readonly starter: FlowStarter,
    private readonly steps: StepRunner,
    private readonly sessions: DeviceSessionRepository,
    private readonly metrics: InteractionMetrics,
  ) {}

  /** Every parameter some method declares as an answer (`ChallengeMethod.answers`). */
  private get answerParams(): readonly string[] {
    return [...new Set([...this.methods.values()].flatMap((m) => m.answers ?? []))];
  }

  async handle(input: ChallengeInput, request: RequestInfo): Promise<EndpointOutcome> {
    return this.counted(() => this.run(input, request));
  }

  /** The same for a caller another binding already established (the browser's cookie + CSRF). */
  async handleFor(caller: Caller, input: ChallengeInput, request: RequestInfo): Promise<EndpointOutcome> {
    return this.counted(async () => this.runFor(caller, input, request, this.admissibleAddress(request)));
  }

  /**
   * The user's answer on the consent screen: approval is recorded in the flow (compare-and-set)
   * and the request decided again; a refusal ends it with `access_denied` (RFC 6749 §4.1.2.1).
   */
  async consent(caller: Caller, approved: boolean, request: RequestInfo): Promise<EndpointOutcome> {
    return this.counted(() =>
      this.withRetries(caller, async () => {
        const turn = await this.load(caller, request);
        if (!approved) {
          await this.flows.complete(caller.session.authSession, turn.version);
          throw new OAuthError('access_denied', 'the user declined the request');
        }
        turn.version = await this.flows.save({ ...turn.flow, consented: true }, turn.version);
        turn.flow = { ...turn.flow, consented: true };
        return this.steps.decideNow(turn);
      }),
    );
  }

  private async counted(run: () => Promise<EndpointOutcome>): Promise<EndpointOutcome> {
    try {
      const outcome = await run();
      this.metrics.outcomes.inc({ outcome: outcome.kind });
      return outcome;
    } catch (e) {
      this.metrics.outcomes.inc({ outcome: e instanceof OAuthError ? e.code : 'error' });
      throw e;
    }
  }

  /**
   * The flow of `authSession` hears from outside (a federation callback, a wallet's direct_post)
   * about its challenge in progress, under the same compare-and-set as the client's answers.
   * `respond: 'poll'` (default): a success is recorded and the client's next poll gets the code —
   * the party calling here (a wallet, another device) never sees it; `'caller'`: the caller is the
   * client itself (FED-12's response_uri) and gets the outcome.
   */
  async resume(authSession: string, payload: JsonObject, request: RequestInfo, options: { respond?: 'poll' | 'caller' } = {}): Promise<EndpointOutcome | undefined> {
    const session = await this.sessions.find(authSession);
    const loaded = session ? await this.flows.load(authSession) : undefined;
    if (!session || !loaded?.flow.active) throw new OAuthError('invalid_session', 'no challenge is waiting for this auth_session');
    const caller = await this.starter.callerFor(session, loaded.flow);
    const defer = (options.respond ?? 'poll') === 'poll';
    for (let attempt = 0; ; attempt++) {
      try {
        const turn = await this.load(caller, request);
        if (!turn.flow.active) throw new OAuthError('invalid_session', 'no challenge is waiting for this auth_session');
        return await this.steps.resume(turn, turn.flow.active, payload, defer);
      } catch (e) {
        if (!(e instanceof FlowConflict)) throw e;
        if (attempt >= MAX_CONFLICT_RETRIES) throw new OAuthError('temporarily_unavailable', 'the flow is busy; retry', { headers: { 'Retry-After': '1' } });
      }
    }
  }

  /**
   * FED-12: the way back in for a routing rule (`/federation/callback`): the caller is the client
   * itself, proving the session's DPoP key (`proofJkt`, FIPA-26), and gets the outcome — a code, or
   * what local policy still needs. Same compare-and-set and retries as every turn.
   */
  async resumeRouting(ruleName: string, authSession: string, payload: JsonObject, request: RequestInfo, proofJkt: string): Promise<EndpointOutcome> {
    const rule = this.routing.find((r) => r.name === ruleName);
    if (!rule) throw new OAuthError('invalid_request', `no ${ruleName} routing is configured`);
    await this.exceeded.enforce(this.store, this.addressHit(request));
    const session = await this.sessions.find(authSession);
    const loaded = session ? await this.flows.load(authSession) : undefined;
    if (!session || !loaded || loaded.flow.dpopJkt !== proofJkt) throw new OAuthError('invalid_session', 'auth_session is unknown, expired, or bound to another key');
    const caller = await this.starter.callerFor(session, loaded.flow);
    return this.counted(async () => {
      try {
        await enforceRateLimit(this.store, 'challenge-session', authSession, this.config.challenge.rateLimitSession, 60);
        return await this.withRetries(caller, async () => this.steps.resumeRouting(await this.load(caller, request), rule, payload));
      } catch (e) {
        throw e instanceof OAuthError ? e.withAuthSession(authSession) : e;
      }
    });
  }

  private async run(input: ChallengeInput, request: RequestInfo): Promise<EndpointOutcome> {
    for (const p of WEB_ONLY) if (input[p] !== undefined) throw new OAuthError('invalid_request', `${p} is not used at the authorization challenge endpoint`);
    const address = this.admissibleAddress(request);
    let caller: Caller;
    try {
      caller = await this.bindings.bind(input, request);
    } catch (e) {
      // A request refused before its admission counts against its address all the same, and over
      // the limit it is answered as such.
      await this.exceeded.enforce(this.store, address);
      throw e;
    }
    return this.runFor(caller, input, request, address);
  }

  /** The per-address limit (finding 10: an IPv6 client counts by its /64). */
  private addressHit(request: RequestInfo): RateLimitHit {
    return rateLimitHit('challenge-ip', ipRateLimitSubject(request.ip), this.config.challenge.rateLimitIp, 60);
  }

  /**
   * The request's per-address limit, once it is known not to be over: an address this process
   * already saw over its limit, in a window that has not reset, is refused here — before the
   * binding's proof check and session read, and before any store round trip — as the admission
   * would refuse it after them all the same. Such a refusal carries no auth_session, as any request
   * refused before its binding.
   */
  private admissibleAddress(request: RequestInfo): RateLimitHit {
    const address = this.addressHit(request);
    const known = this.exceeded.refusal(address);
    if (known) throw known;
    return address;
  }

  private async runFor(caller: Caller, input: ChallengeInput, request: RequestInfo, address: RateLimitHit): Promise<EndpointOutcome> {
    try {
      let admitted: { readonly loaded: LoadedFlow | undefined } | undefined = await this.admit(caller, address);
      return await this.withRetries(caller, () => {
        // The flow read with the admission serves the first attempt; a retry after a conflict reads again.
        const first = admitted;
        admitted = undefined;
        return this.turn(caller, input, request, first);
      });
    } catch (e) {
      // A refused request stores nothing (issue 8): a session this very request created goes again,
      // whichever check refused it after the flow's parameters proved valid.
      if (caller.pending?.persisted && e instanceof OAuthError && e.status < 500) await caller.pending.discard();
      // FIPA-17: once the session exists, errors carry it, so the client can correct the request and go on.
      const exists = !caller.pending || caller.pending.persisted;
      throw e instanceof OAuthError && exists ? e.withAuthSession(caller.session.authSession) : e;
    }
  }

  /**
   * The request's admission in one store round trip: the per-address limit (`address`), the
   * per-session limit against guessing (FIPA-28), the single-use values the binding left to the
   * loop, and the flow.
   */
  private async admit(caller: Caller, address: RateLimitHit): Promise<{ readonly loaded: LoadedFlow | undefined }> {
    const hits = [address, rateLimitHit('challenge-session', caller.session.authSession, this.config.challenge.rateLimitSession, 60)];
    const values = caller.claims ?? [];
    const admitted = await this.flows.admit(caller.created ? undefined : caller.session.authSession, { hits, claims: values.map((v) => v.claim) });
    if (admitted.limited) {
      const { index, resetSeconds } = admitted.limited;
      if (index === 0) this.exceeded.note(hits[0], resetSeconds);
      throw rateLimited(hits[index].bucket, resetSeconds);
    }
    admitted.claims.forEach((result, i) => {
      if (result !== 'claimed') throw values[i].refuse(result);
    });
    return { loaded: admitted.loaded };
  }

  /** A step is retried when another request for the same session changed the flow first. */
  private async withRetries(caller: Caller, step: () => Promise<EndpointOutcome>): Promise<EndpointOutcome> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await step();
      } catch (e) {
        if (!(e instanceof FlowConflict)) throw e;
        if (attempt >= MAX_CONFLICT_RETRIES) throw new OAuthError('invalid_request', 'concurrent requests for this auth_session; retry', { extra: { auth_session: caller.session.authSession } });
      }
    }
  }

  private async turn(caller: Caller, input: ChallengeInput, request: RequestInfo, admitted?: { readonly loaded: LoadedFlow | undefined }): Promise<EndpointOutcome> {
    const turn = await this.load(caller, request, input, admitted);
    const outcome = await this.dispatch(turn, input);
    // A new flow that no step wrote yet is stored before the answer (a code completes it instead).
    if (turn.dirty && outcome.kind !== 'code') {
      await caller.pending?.persist();
      turn.version = await this.flows.save(turn.flow, turn.version);
    }
    return outcome;
  }

  private async dispatch(turn: Turn, input: ChallengeInput): Promise<EndpointOutcome> {
    for (const rule of this.routing) {
      const routed = await rule.route(turn, input);
      if (routed) return routed;
    }
    const explicit = typeof input.challenge_type === 'string' ? input.challenge_type : undefined;
    if (input.challenge_type !== undefined && (explicit === undefined || explicit.length > 64)) throw new OAuthError('invalid_request', 'challenge_type must be a method id');
    const action = input.action;
    if (action !== undefined && (typeof action !== 'string' || action.length > 32)) throw new OAuthError('invalid_request', 'action must be a short string');
    const active = turn.flow.active;
    // Parameters a method declares as answers (`answers`) answer its challenge even while it is pending (WALLET-1: `response_code`).
    const answersActive = active !== undefined && (this.methods.get(active.method)?.answers ?? []).some((p) => input[p] !== undefined);
    const foreignAnswer = !answersActive && this.answerParams.some((p) => input[p] !== undefined);
    const answering = input.code !== undefined || input.credential !== undefined || answersActive || foreignAnswer;
    if (active?.pending && foreignAnswer) throw new OAuthError('invalid_request', 'this parameter does not answer the challenge in progress');

    // A client polling a challenge that waits for something outside (WALLET-2).
    if (active?.pending && !answersActive && explicit === undefined && action === undefined && !answering) return this.steps.poll(turn, active);
    // An answer to the challenge in progress.
    if (active && (!active.pending || answersActive) && (explicit === undefined || explicit === active.method) && action === undefined) return this.steps.answer(turn, active, input);
    // An answer with nothing to answer: a one-time code used again, or after the challenge was burned or expired.
    if (!active && explicit === undefined && action === undefined && answering) {
      throw new OAuthError('invalid_request', 'no challenge is in progress for this auth_session (a code is accepted once); start a new one');
    }
    // A method to begin: named, or inferred from what the client sent (seed 004: `email=`).
    const methodId = explicit ?? (await this.starter.infer(input, turn, this.methods, () => this.steps.open(turn)));
    if (methodId !== undefined) return this.steps.begin(turn, methodId, input);
    return this.steps.decideNow(turn);
  }

  /** Reads (or starts) the flow and builds the turn; `admitted`: the flow was read with the admission. */
  private async load(caller: Caller, request: RequestInfo, input?: ChallengeInput, admitted?: { readonly loaded: LoadedFlow | undefined }): Promise<Turn> {
    const loaded = admitted ? admitted.loaded : caller.created ? undefined : await this.flows.load(caller.session.authSession);
    let flow: FlowState;
    const version = loaded?.version ?? 0;
    let started = false;
    const enabled = [...this.methods.keys()].filter((m) => this.config.challenge.methods.includes(m));
    const policy = acrPolicyFor(caller.client.challengePolicy, enabled, { recoveryHoldSeconds: this.config.challenge.recoveryHoldSeconds, browser: caller.mode === 'browser', federated: caller.mode === 'federated' });
    if (input && this.starter.startsFlow(caller, input, loaded?.flow)) {
      flow = await this.starter.newFlow(caller, input);
      requestedAcrs(policy, flow.request.acrValues);
      // A session this request created is stored with the flow's first write (StepApplier.save, or the
      // save below), not here: a request refused before it (a send throttled, a malformed parameter)
      // leaves nothing behind (issue 8 item 6).
      // A new authorization request replaces the one in progress: its first write is a compare-and-set against it.
      started = true;
    } else if (loaded) {
      flow = loaded.flow;
    } else {
      // Issue 7 finding 5: a request that is neither an answer nor an authorization request does not mint codes.
      throw new OAuthError('invalid_request', 'no authorization request is in progress for this auth_session; start one (response_type=code with its parameters)');
    }
    // FIPA-26: the flow is bound to the first request's DPoP key.
    if (flow.dpopJkt !== caller.jkt) throw new OAuthError('invalid_session', 'this auth_session is bound to another DPoP key');
    return { caller, flow, version, policy, requested: requestedAcrs(policy, flow.request.acrValues), request, started, dirty: started };
  }
}
