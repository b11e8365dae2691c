import { Inject, Injectable } from '@nestjs/common';
import type { ChallengeMethod, ChallengeStatus, InteractionStep, JsonObject } from '@fpa/challenge-kit';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { CLOCK, OAuthError, type Clock } from '@fpa/oauth-core';
import { AuditService } from '@fpa/platform';
import { AuthenticationRecorder } from '../effects/authentication-recorder.service';
import { DeliveryService } from '../effects/delivery.service';
import type { EnrolmentPath } from '../effects/enrolment-guard.service';
import type { ActiveChallenge } from '../flow/flow-state';
import { FlowStore } from '../flow/flow-store';
import { InteractionMetrics } from '../interaction.metrics';
import type { EndpointOutcome } from './outcome';
import { OutcomeDecider } from './outcome-decider.service';
import type { Turn } from './turn';

/**
 * Turns what a plug-in returned (an InteractionStep) into stored flow state and an outcome: store
 * and prompt (delivering its message), wait, count a wrong answer, or record a success and decide.
 * Every change to the flow is a compare-and-set on the version the turn read.
 */
@Injectable()
export class StepApplier {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly flows: FlowStore,
    private readonly delivery: DeliveryService,
    private readonly recorder: AuthenticationRecorder,
    private readonly decider: OutcomeDecider,
    private readonly metrics: InteractionMetrics,
    private readonly audit: AuditService,
  ) {}

  apply(turn: Turn, method: ChallengeMethod, step: InteractionStep, active: ActiveChallenge | undefined, enrolment: EnrolmentPath | undefined): Promise<EndpointOutcome>;
  /** `deferDecision`: a success is recorded and the decision left to the client's next poll (undefined then). */
  apply(turn: Turn, method: ChallengeMethod, step: InteractionStep, active: ActiveChallenge | undefined, enrolment: EnrolmentPath | undefined, deferDecision: boolean): Promise<EndpointOutcome | undefined>;
  async apply(turn: Turn, method: ChallengeMethod, step: InteractionStep, active: ActiveChallenge | undefined, enrolment: EnrolmentPath | undefined, deferDecision = false): Promise<EndpointOutcome | undefined> {
    switch (step.kind) {
      case 'prompt':
        return this.prompt(turn, method, step, active, enrolment);
      case 'pending':
        return this.pending(turn, method, step, active, enrolment);
      case 'rejected':
        return this.rejected(turn, method, step, active);
      case 'verified':
        return this.verified(turn, method, step, active, deferDecision);
    }
  }

  /** Writes the flow at the turn's version (storing the session first, if this request created it); the turn moves to the new version. */
  async save(turn: Turn, next: Turn['flow']): Promise<void> {
    await turn.caller.pending?.persist();
    turn.version = await this.flows.save(next, turn.version);
    turn.flow = next;
    turn.dirty = false;
  }

  private async prompt(turn: Turn, method: ChallengeMethod, step: Extract<InteractionStep, { kind: 'prompt' }>, active: ActiveChallenge | undefined, enrolment: EnrolmentPath | undefined): Promise<EndpointOutcome> {
    const before = turn.flow;
    const next: ActiveChallenge = {
      method: method.id,
      state: step.state,
      attempts: active?.attempts ?? 0,
      expiresAt: this.clock.nowMs() + step.expiresInSeconds * 1000,
      ...(step.guard ? { guard: step.guard } : {}),
      ...(enrolment ? { enrolment } : {}),
    };
    const reservation = step.delivery ? await this.delivery.reserve(step.delivery, method.id, turn.caller.client.id) : undefined;
    try {
      await this.save(turn, { ...turn.flow, active: next });
    } catch (e) {
      // Lost the compare-and-set race (or the store failed): nothing will be sent, so nothing stays reserved.
      await reservation?.release();
      throw e;
    }
    if (step.delivery) {
      try {
        await this.delivery.send(step.delivery);
      } catch (e) {
        // Nothing was sent: put the flow back as it was (a code already delivered stays valid) and give the resend slot back.
        await this.flows.restore(before, turn.version);
        await reservation?.release();
        this.metrics.steps.inc({ method: method.id, outcome: 'undeliverable' });
        throw new OAuthError('temporarily_unavailable', `the ${step.delivery.channel === 'email' ? 'email' : 'SMS'} could not be sent; retry later`, { headers: { 'Retry-After': '5' }, cause: e });
      }
    }
    this.metrics.steps.inc({ method: method.id, outcome: step.delivery ? 'code_sent' : 'prompted' });
    const status = (typeof step.reply.status === 'string' ? step.reply.status : 'method_required') as ChallengeStatus;
    return this.decider.needMore(turn, status, { ...step.reply, challenge_type: method.id, expires_in: step.expiresInSeconds });
  }

  private async pending(turn: Turn, method: ChallengeMethod, step: Extract<InteractionStep, { kind: 'pending' }>, active: ActiveChallenge | undefined, enrolment: EnrolmentPath | undefined): Promise<EndpointOutcome> {
    const next: ActiveChallenge = {
      method: method.id,
      state: step.state,
      attempts: active?.attempts ?? 0,
      expiresAt: this.clock.nowMs() + step.expiresInSeconds * 1000,
      pending: { reply: step.reply, ...(step.intervalSeconds !== undefined ? { intervalSeconds: step.intervalSeconds } : {}) },
      ...(enrolment ? { enrolment } : {}),
    };
    await this.save(turn, { ...turn.flow, active: next });
    this.metrics.steps.inc({ method: method.id, outcome: 'pending' });
    return this.pendingOutcome(turn, next);
  }

  pendingOutcome(turn: Turn, active: ActiveChallenge): EndpointOutcome {
    const expiresIn = Math.max(0, Math.ceil((active.expiresAt - this.clock.nowMs()) / 1000));
    return {
      kind: 'pending',
      authSession: turn.caller.session.authSession,
      challengeType: active.method,
      reply: active.pending?.reply ?? {},
      expiresIn,
      ...(active.pending?.intervalSeconds !== undefined ? { intervalSeconds: active.pending.intervalSeconds } : {}),
    };
  }

  private async rejected(turn: Turn, method: ChallengeMethod, step: Extract<InteractionStep, { kind: 'rejected' }>, active: ActiveChallenge | undefined): Promise<EndpointOutcome> {
    if (step.reason === 'invalid_input' || !active) throw new OAuthError('invalid_request', step.description ?? `the ${method.id} request is incomplete`);
    const attempts = active.attempts + 1;
    const burned = attempts >= this.config.challenge.maxAttempts || step.reason === 'expired';
    await this.save(turn, { ...turn.flow, active: burned ? undefined : { ...active, attempts } });
    this.metrics.steps.inc({ method: method.id, outcome: burned && step.reason !== 'expired' ? 'burned' : step.reason });
    this.audit.record({
      type: 'challenge.failed',
      outcome: 'failure',
      clientId: turn.caller.client.id,
      authSession: turn.caller.session.authSession,
      ip: turn.request.ip,
      requestId: turn.request.requestId,
      details: { method: method.id, reason: step.reason, attempts },
    });
    const status: ChallengeStatus = burned ? (step.reason === 'expired' ? 'expired' : 'attempts_exceeded') : 'invalid_code';
    // A challenge that ends for a stated reason (a wallet's presentation refused) tells the party that ended it why.
    const why: JsonObject = burned && step.reason === 'expired' && step.description ? { error_description: step.description } : {};
    const challenge: JsonObject = burned ? { challenge_type: method.id, ...why } : { challenge_type: method.id, attempts_remaining: this.config.challenge.maxAttempts - attempts };
    return this.decider.needMore(turn, status, challenge);
  }

  private async verified(turn: Turn, method: ChallengeMethod, step: Extract<InteractionStep, { kind: 'verified' }>, active: ActiveChallenge | undefined, deferDecision: boolean): Promise<EndpointOutcome | undefined> {
    if (deferDecision && active?.pending) return this.settle(turn, method, step, active);
    // Consume the challenge first, so two racing correct answers cannot both count.
    await this.save(turn, { ...turn.flow, active: undefined });
    const recorded = await this.recorder.record(turn, method, step, active?.enrolment);
    if (deferDecision) return undefined;
    // An enrolment stores a credential and authenticates nothing (README "Assurance").
    if (recorded.kind === 'enrolled') return this.decider.decide(turn, 'enrolled', { completed: method.id, provisional: recorded.provisional });
    return this.decider.decide(turn, 'additional_method_required', { completed: method.id });
  }

  /**
   * A success from outside while the client polls (a wallet's post): consumed first as for an answer,
   * but kept visible as `settling` until the authentication is stored, so a poll in between hears
   * `pending` rather than finding neither a challenge nor an authentication (the benchmark caught
   * `method_required` there under load). A failure to record ends the challenge.
   */
  private async settle(turn: Turn, method: ChallengeMethod, step: Extract<InteractionStep, { kind: 'verified' }>, active: ActiveChallenge): Promise<undefined> {
    await this.save(turn, { ...turn.flow, active: { ...active, settling: true } });
    try {
      await this.recorder.record(turn, method, step, active.enrolment);
    } catch (e) {
      await this.save(turn, { ...turn.flow, active: undefined }).catch(() => undefined);
      throw e;
    }
    await this.save(turn, { ...turn.flow, active: undefined });
    return undefined;
  }
}
