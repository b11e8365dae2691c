import { Inject, Injectable } from '@nestjs/common';
import { CHALLENGE_METHODS, type ChallengeMethod, type ChallengeParams, type ChallengeRegistry, type JsonObject } from '@fpa/challenge-kit';
import { CLOCK, OAuthError, type Clock } from '@fpa/oauth-core';
import { AttemptLimiter } from '@fpa/users';
import { AuthenticationRecorder } from '../effects/authentication-recorder.service';
import { EnrolmentGuard, type EnrolmentPath } from '../effects/enrolment-guard.service';
import type { ActiveChallenge } from '../flow/flow-state';
import type { ChallengeInput } from '../http/challenge-request';
import { InteractionMetrics } from '../interaction.metrics';
import type { RoutingRule } from '../routing/routing';
import type { EndpointOutcome } from './outcome';
import { OutcomeDecider } from './outcome-decider.service';
import { SessionFacts } from './session-facts.service';
import { StepApplier } from './step-applier.service';
import type { Turn } from './turn';

/**
 * Runs one plug-in call for the loop: begin a method (after the enrolment rule, for enrolments),
 * answer the challenge in progress (after the per-secret lockout), or resume it from outside.
 */
@Injectable()
export class StepRunner {
  constructor(
    @Inject(CHALLENGE_METHODS) private readonly methods: ChallengeRegistry,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly facts: SessionFacts,
    private readonly enrolment: EnrolmentGuard,
    private readonly attempts: AttemptLimiter,
    private readonly applier: StepApplier,
    private readonly decider: OutcomeDecider,
    private readonly metrics: InteractionMetrics,
    private readonly recorder: AuthenticationRecorder,
  ) {}

  method(turn: Turn, id: string): ChallengeMethod {
    const m = this.methods.get(id);
    if (!m || !turn.policy.methods.includes(id)) throw new OAuthError('invalid_request', 'unknown or disabled challenge_type');
    return m;
  }

  async begin(turn: Turn, methodId: string, input: ChallengeInput): Promise<EndpointOutcome> {
    const method = this.method(turn, methodId);
    const action = typeof input.action === 'string' ? input.action : undefined;
    const enrolAction = method.assurance?.enrolAction;
    const path: EnrolmentPath | undefined = action === 'recover' ? 'recovery' : action !== undefined && action === enrolAction ? 'authentication' : undefined;
    let params: ChallengeParams = input;
    if (path) {
      if (!enrolAction) throw new OAuthError('invalid_request', `${method.id} enrols no credential`);
      // Finding 1: asked before the module sees the request, and again when the enrolment completes.
      const decision = await this.enrolment.decide(turn, method, path);
      if (!decision.allowed) return this.reauthenticate(turn, method, path, decision.needRank, decision.needIdentifiers);
      params = { ...input, action: enrolAction };
    } else if (action === undefined && !(await method.appliesTo(await this.facts.view(turn)))) {
      // With an action (resend, …) the module judges the request in begin.
      return this.decider.needMore(turn, 'method_unavailable', { challenge_type: methodId });
    }
    const step = await method.begin(await this.facts.view(turn), params);
    // Beginning replaces whatever was in progress (a resend keeps nothing of the old code but its destination).
    return this.applier.apply(turn, method, step, undefined, path);
  }

  async answer(turn: Turn, active: ActiveChallenge, input: ChallengeInput): Promise<EndpointOutcome> {
    const method = this.method(turn, active.method);
    if (active.settling) throw new OAuthError('invalid_request', 'this challenge is being completed; poll with auth_session alone');
    if (this.clock.nowMs() >= active.expiresAt) {
      await this.applier.save(turn, { ...turn.flow, active: undefined });
      this.metrics.steps.inc({ method: method.id, outcome: 'expired' });
      return this.decider.needMore(turn, 'expired', { challenge_type: method.id });
    }
    // Finding 2: every answer is charged against its secret before it is checked; a locked secret is not checked at all.
    if (active.guard) {
      const charge = await this.attempts.charge(active.guard, new Date(this.clock.nowMs()));
      if (!charge.allowed) {
        this.metrics.lockouts.inc({ method: method.id });
        this.metrics.steps.inc({ method: method.id, outcome: 'locked' });
        return this.decider.needMore(turn, 'locked', { challenge_type: method.id, retry_after: charge.retryAfterSeconds }, undefined, charge.retryAfterSeconds);
      }
    }
    const step = await method.answer(await this.facts.view(turn), active.state, input);
    if (active.guard && step.kind === 'rejected' && step.reason === 'invalid_input') await this.attempts.refund(active.guard);
    // A right answer clears its secret's failures, alongside the writes that record it.
    const cleared = active.guard && step.kind === 'verified' ? this.attempts.succeed(active.guard) : undefined;
    try {
      return await this.applier.apply(turn, method, step, active, active.enrolment);
    } finally {
      await cleared;
    }
  }

  /**
   * Something outside the client's requests for the challenge in progress (STYLE.md: a way back
   * in). With `deferDecision` a success is only recorded: the client's next poll decides (a
   * wallet's post must not receive the app's code); otherwise the caller gets the outcome.
   */
  async resume(turn: Turn, active: ActiveChallenge, payload: JsonObject, deferDecision: boolean): Promise<EndpointOutcome | undefined> {
    const method = this.method(turn, active.method);
    if (!method.resume) throw new OAuthError('invalid_request', `${method.id} is not waiting for anything`);
    if (active.settling) throw new OAuthError('invalid_request', 'this challenge was already answered');
    if (this.clock.nowMs() >= active.expiresAt) {
      await this.applier.save(turn, { ...turn.flow, active: undefined });
      throw new OAuthError('invalid_request', 'the challenge expired');
    }
    const step = await method.resume(await this.facts.view(turn), active.state, payload);
    return this.applier.apply(turn, method, step, active, active.enrolment, deferDecision);
  }

  /**
   * A routing rule's way back in (FED-12): the rule checks the payload and may record an
   * authentication made elsewhere; unless it answers itself, the request is decided again.
   */
  async resumeRouting(turn: Turn, rule: RoutingRule, payload: JsonObject): Promise<EndpointOutcome> {
    if (!rule.resume) throw new OAuthError('invalid_request', `${rule.name} is not waiting for anything`);
    let completed: string | undefined;
    const outcome = await rule.resume(turn, payload, {
      save: (next) => this.applier.save(turn, next),
      record: async (auth) => {
        await this.recorder.recordExternal(turn, auth);
        completed = auth.method;
      },
    });
    if (outcome) return outcome;
    return completed ? this.decider.decide(turn, 'additional_method_required', { completed }) : this.decider.decide(turn, 'method_required');
  }

  /** Nothing to begin or answer: a code if the request is already satisfied, else what is still open. */
  decideNow(turn: Turn): Promise<EndpointOutcome> {
    return this.decider.decide(turn, 'method_required');
  }

  /** Methods that can still help the flow's requested acr. */
  async open(turn: Turn): Promise<readonly string[]> {
    return (await this.facts.assess(turn)).open;
  }

  /** The client polls a pending challenge: nothing to compute until `resume` has run. */
  async poll(turn: Turn, active: ActiveChallenge): Promise<EndpointOutcome> {
    if (this.clock.nowMs() >= active.expiresAt) {
      await this.applier.save(turn, { ...turn.flow, active: undefined });
      return this.decider.needMore(turn, 'expired', { challenge_type: active.method });
    }
    return this.applier.pendingOutcome(turn, active);
  }

  /**
   * The enrolment rule refused: more is needed first — a fresh authentication with a factor at
   * least as strong as the user's strongest (or, for recovery, what the recovery policy requires).
   */
  private async reauthenticate(turn: Turn, method: ChallengeMethod, path: EnrolmentPath, needRank: number, needIdentifiers: readonly string[] | undefined): Promise<EndpointOutcome> {
    const open = turn.policy.methods.filter((id) => {
      const a = this.methods.get(id)?.assurance;
      // Recovery: the methods that verify what is still missing; otherwise: factors at least as strong as the strongest held.
      if (path === 'recovery') return a?.verifies !== undefined && (needIdentifiers === undefined || needIdentifiers.includes(a.verifies));
      return (a?.phishingResistant ? 3 : a?.enrolAction ? 2 : 1) >= needRank;
    });
    return this.decider.needMore(turn, 'reauthentication_required', { challenge_type: method.id, enrolment: path }, open);
  }
}
