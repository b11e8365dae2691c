import { Inject, Injectable } from '@nestjs/common';
import { assess, type Assessment, type MethodProfile } from '@fpa/assurance';
import { CHALLENGE_METHODS, type AuthSessionView, type ChallengeMethod, type ChallengeRegistry, type JsonObject } from '@fpa/challenge-kit';
import { CLOCK, type Clock } from '@fpa/oauth-core';
import { UsersService, type AuthenticationRecord, type User } from '@fpa/users';
import type { SessionEvent, Turn } from './turn';

/** An authentication record as the assessment reads it: one event of the session. */
export function sessionEventOf(r: AuthenticationRecord): SessionEvent {
  return {
    method: r.method,
    amr: r.amr,
    atMs: r.authenticatedAt.getTime(),
    factor: r.factor,
    factors: r.factors,
    phishingResistant: r.phishingResistant,
    ...(r.verifies ? { verifies: r.verifies } : {}),
    credentialBound: r.credentialId !== null,
    counted: r.counted,
    userId: r.userId,
    flowId: r.flowId,
  };
}

/** What a method proves at best, from its declaration (the input of `assess` for open methods). */
export function profileOf(m: ChallengeMethod): MethodProfile {
  return {
    id: m.id,
    amr: m.amr,
    factor: m.assurance?.factor ?? m.id,
    phishingResistant: m.assurance?.phishingResistant === true,
    multiFactorCapable: m.assurance?.multiFactorCapable === true,
    ...(m.assurance?.verifies ? { verifies: m.assurance.verifies } : {}),
  };
}

/**
 * Reads what the loop needs to know about a session — its authentication events, its user, the
 * view a method gets — once per request, and runs the one assurance function over it.
 */
@Injectable()
export class SessionFacts {
  private readonly profiles: MethodProfile[];

  constructor(
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CHALLENGE_METHODS) private readonly methods: ChallengeRegistry,
    private readonly users: UsersService,
  ) {
    this.profiles = [...methods.values()].map(profileOf);
  }

  /** The session's events, newest first. */
  async events(turn: Turn): Promise<SessionEvent[]> {
    if (!turn.events) {
      const records = turn.caller.created ? [] : await this.users.sessionAuthentications(turn.caller.session.authSession);
      turn.events = records.map(sessionEventOf);
    }
    return turn.events;
  }

  /** The user of the session: attached by an earlier code, or identified by an authentication of this session. */
  async userId(turn: Turn): Promise<string | undefined> {
    return turn.caller.session.user?.userId ?? (await this.events(turn))[0]?.userId;
  }

  async user(turn: Turn): Promise<User | undefined> {
    if (turn.user === undefined) {
      const id = await this.userId(turn);
      turn.user = id ? ((await this.users.find(id)) ?? null) : null;
    }
    return turn.user ?? undefined;
  }

  async assess(turn: Turn): Promise<Assessment> {
    return assess({
      policy: turn.policy,
      requested: turn.requested,
      events: await this.events(turn),
      nowMs: this.clock.nowMs(),
      maxAgeSeconds: turn.flow.request.maxAge,
      requestedAtMs: turn.flow.createdAt,
      methods: this.profiles,
    });
  }

  /** What a method may know (read-only, no secrets). */
  async view(turn: Turn): Promise<AuthSessionView> {
    const user = await this.user(turn);
    const since = turn.flow.request.maxAge === undefined ? -Infinity : Math.min(this.clock.nowMs() - turn.flow.request.maxAge * 1000, turn.flow.createdAt);
    const verified = (await this.events(turn)).filter((e) => e.counted && e.atMs >= since).map((e) => e.method);
    return {
      authSession: turn.caller.session.authSession,
      clientId: turn.caller.client.id,
      mode: turn.caller.mode,
      user: user ? { id: user.id, email: user.email, phone: user.phone } : undefined,
      verifiedMethods: [...new Set(verified)],
      loginHint: turn.flow.request.loginHint,
      acrValues: turn.flow.request.acrValues,
      authorizationDetails: turn.flow.request.authorizationDetails as readonly JsonObject[] | undefined,
    };
  }

  /**
   * The ones of `ids` whose method can authenticate this session now (`appliesTo`) in a way that
   * counts: a method whose every credential of this user was enrolled in this very flow cannot
   * (finding 1), so it is not offered here — a later request can use it.
   */
  async applicable(turn: Turn, ids: readonly string[]): Promise<string[]> {
    return (await this.sortOut(turn, ids)).applicable;
  }

  /**
   * `applicable`, and the ones of `ids` an identified user could add a credential of to meet the
   * request (a method with an enrol action they hold nothing of yet: an authenticator app for mfa).
   */
  async sortOut(turn: Turn, ids: readonly string[]): Promise<{ applicable: string[]; enrollable: string[] }> {
    const view = await this.view(turn);
    const userId = view.user?.id;
    const held = userId && ids.some((id) => this.methods.get(id)?.assurance?.enrolAction) ? await this.users.heldCredentials(userId) : [];
    const applicable: string[] = [];
    const enrollable: string[] = [];
    for (const id of ids) {
      const m = this.methods.get(id);
      if (!m) continue;
      const mine = held.filter((c) => c.method === id);
      if (!(await m.appliesTo(view))) {
        if (userId && m.assurance?.enrolAction && mine.length === 0) enrollable.push(id);
        continue;
      }
      if (m.assurance?.enrolAction && mine.length > 0 && mine.every((c) => c.enrolledFlow === turn.flow.flowId)) continue;
      applicable.push(id);
    }
    return { applicable, enrollable };
  }
}
