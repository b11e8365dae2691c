import { Inject, Injectable } from '@nestjs/common';
import { provisionalUse } from '@fpa/assurance';
import type { ChallengeMethod, InteractionStep } from '@fpa/challenge-kit';
import { CLOCK, OAuthError, type Clock } from '@fpa/oauth-core';
import { AuditService } from '@fpa/platform';
import { UsersService, type NewAuthenticationRecord, type NewCredential, type User } from '@fpa/users';
import { InteractionMetrics } from '../interaction.metrics';
import type { ExternalAuthentication } from '../routing/routing';
import { SessionFacts, sessionEventOf } from '../loop/session-facts.service';
import type { SessionEvent, Turn } from '../loop/turn';
import { EnrolmentGuard, type EnrolmentPath } from './enrolment-guard.service';

type Verified = Extract<InteractionStep, { kind: 'verified' }>;

/** What a verified step left behind. */
export type Recorded = { readonly kind: 'authenticated'; readonly event: SessionEvent } | { readonly kind: 'enrolled'; readonly provisional: boolean };

/**
 * The authentication recorder port: persists what a verified step proved — the user (found or
 * created from a verified identifier), an enrolled credential (after the enrolment rule), a
 * credential's use (its counter moves forward only; a provisional one is promoted in a later
 * flow), and the authentication event with what it proved. Keeps the turn's facts current.
 */
@Injectable()
export class AuthenticationRecorder {
  constructor(
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly users: UsersService,
    private readonly enrolment: EnrolmentGuard,
    private readonly facts: SessionFacts,
    private readonly audit: AuditService,
    private readonly metrics: InteractionMetrics,
  ) {}

  async record(turn: Turn, method: ChallengeMethod, step: Verified, path: EnrolmentPath | undefined): Promise<Recorded> {
    const now = new Date(this.clock.nowMs());
    const current = await this.facts.userId(turn);
    const subject = step.subject;
    // A session without a user, identified by a verified address: the user (found or created) and
    // the record in one statement — nothing is checked between the two.
    if (current === undefined && step.credential === undefined && subject.type !== 'user') {
      const r = this.newRecord(turn, method, step, now, null, true);
      return this.recorded(turn, method, step, await this.users.resolveAndRecord(subject, now, r), r);
    }
    // A session that has a user creates none: an address nobody has is not this user's either.
    const user = await this.users.resolve(subject, now, { existingOnly: current !== undefined });
    if (!user) throw new OAuthError('access_denied', current !== undefined ? `this ${subject.type === 'phone' ? 'phone number' : 'address'} is not on the account of this auth_session` : 'unknown user');
    // One session, one user: a second person cannot authenticate into someone else's session.
    if (current !== undefined && current !== user.id) throw new OAuthError('access_denied', 'this auth_session belongs to another user');
    if (step.credential?.action === 'add') return this.enrol(turn, method, step.credential.credential, user.id, path ?? 'authentication', now);

    let counted = true;
    let credentialId: string | null = null;
    if (step.credential?.action === 'use') {
      const { credentialId: id, counter } = step.credential;
      const stored = await this.users.credential(step.credential.method, id);
      if (!stored || stored.userId !== user.id) throw new OAuthError('access_denied', 'unknown credential');
      // A TOTP code or an assertion counts once: a second use of the same step/counter is refused.
      if (!(await this.users.recordCredentialUse(step.credential.method, id, now, counter))) throw new OAuthError('access_denied', 'this code or assertion was already used');
      const use = provisionalUse(stored, turn.flow.flowId, now.getTime());
      if (use.promote) await this.users.promoteCredential(step.credential.method, id);
      counted = use.counted;
      credentialId = id;
    }
    const r = this.newRecord(turn, method, step, now, credentialId, counted);
    await this.users.recordAuthentication({ userId: user.id, ...r });
    return this.recorded(turn, method, step, user, r);
  }

  /** What the authentication record of a verified step holds, but its user. */
  private newRecord(turn: Turn, method: ChallengeMethod, step: Verified, now: Date, credentialId: string | null, counted: boolean): Omit<NewAuthenticationRecord, 'userId'> {
    const multiFactor = method.assurance?.multiFactorCapable === true && step.userVerified === true;
    return {
      authSession: turn.caller.session.authSession,
      method: method.id,
      amr: [...step.amr],
      verifiedValue: step.verifiedValue ?? null,
      at: now,
      flowId: turn.flow.flowId,
      factor: method.assurance?.factor ?? method.id,
      factors: multiFactor ? 2 : 1,
      phishingResistant: method.assurance?.phishingResistant === true,
      verifies: step.subject.type === 'email' ? 'email' : step.subject.type === 'phone' ? 'phone' : null,
      credentialId,
      counted,
    };
  }

  /** The recorded authentication as the turn's newest event; metrics and audit. */
  private async recorded(turn: Turn, method: ChallengeMethod, step: Verified, user: User, r: Omit<NewAuthenticationRecord, 'userId'>): Promise<Recorded> {
    // The record just written, as the turn's newest event (its user and time as stored).
    const event = sessionEventOf({ ...r, userId: user.id, authenticatedAt: r.at });
    turn.events = [event, ...(await this.facts.events(turn))];
    if (turn.user?.id !== user.id) turn.user = user;
    this.metrics.steps.inc({ method: method.id, outcome: 'verified' });
    this.audit.record({
      type: 'challenge.verified',
      clientId: turn.caller.client.id,
      authSession: turn.caller.session.authSession,
      subject: user.id,
      ip: turn.request.ip,
      requestId: turn.request.requestId,
      details: { method: method.id, amr: [...step.amr], counted: r.counted, factors: event.factors },
    });
    return { kind: 'authenticated', event };
  }

  /**
   * An authentication made elsewhere (FED-12: a downstream server, its user linked to ours by the
   * routing rule): the same rules as a local one — one session, one user — and the same record.
   */
  async recordExternal(turn: Turn, auth: ExternalAuthentication): Promise<SessionEvent> {
    const now = new Date(this.clock.nowMs());
    const current = await this.facts.userId(turn);
    if (current !== undefined && current !== auth.userId) throw new OAuthError('access_denied', 'this auth_session belongs to another user');
    const user = await this.users.find(auth.userId);
    if (!user) throw new OAuthError('access_denied', 'unknown user');
    const event: SessionEvent = {
      method: auth.method,
      amr: [...auth.amr],
      atMs: now.getTime(),
      factor: auth.method,
      factors: auth.factors,
      phishingResistant: auth.phishingResistant,
      credentialBound: false,
      counted: true,
      userId: user.id,
      flowId: turn.flow.flowId,
    };
    await this.users.recordAuthentication({
      userId: user.id,
      authSession: turn.caller.session.authSession,
      method: auth.method,
      amr: event.amr,
      verifiedValue: auth.verifiedValue,
      at: now,
      flowId: turn.flow.flowId,
      factor: event.factor,
      factors: event.factors,
      phishingResistant: event.phishingResistant,
      verifies: null,
      credentialId: null,
      counted: true,
    });
    turn.events = [event, ...(await this.facts.events(turn))];
    if (turn.user?.id !== user.id) turn.user = user;
    this.metrics.steps.inc({ method: auth.method, outcome: 'verified' });
    this.audit.record({
      type: 'challenge.verified',
      clientId: turn.caller.client.id,
      authSession: turn.caller.session.authSession,
      subject: user.id,
      ip: turn.request.ip,
      requestId: turn.request.requestId,
      details: { method: auth.method, amr: [...auth.amr], factors: auth.factors, ...(auth.audit ?? {}) },
    });
    return event;
  }

  private async enrol(turn: Turn, method: ChallengeMethod, credential: NewCredential, userId: string, path: EnrolmentPath, now: Date): Promise<Recorded> {
    const decision = await this.enrolment.decide(turn, method, path);
    if (!decision.allowed || decision.userId !== userId) throw new OAuthError('access_denied', 'this enrolment is no longer allowed: authenticate again with your strongest factor');
    const trustedAfter = path === 'recovery' ? new Date(now.getTime() + turn.policy.recovery.holdSeconds * 1000) : null;
    const added = await this.users.addCredential(userId, credential, { flowId: turn.flow.flowId, provisional: decision.provisional, basisRank: decision.basisRank, by: path, trustedAfter }, now);
    if (!added) throw new OAuthError('invalid_request', 'this credential is already registered');
    this.metrics.steps.inc({ method: method.id, outcome: 'enrolled' });
    this.metrics.enrolments.inc({ method: method.id, path, provisional: String(decision.provisional) });
    this.audit.record({
      type: path === 'recovery' ? 'credential.recovered' : 'credential.enrolled',
      clientId: turn.caller.client.id,
      authSession: turn.caller.session.authSession,
      subject: userId,
      ip: turn.request.ip,
      requestId: turn.request.requestId,
      details: { method: method.id, provisional: decision.provisional, basisRank: decision.basisRank, ...(trustedAfter ? { trustedAfter: trustedAfter.toISOString() } : {}) },
    });
    return { kind: 'enrolled', provisional: decision.provisional };
  }
}
