import { Inject, Injectable } from '@nestjs/common';
import { credentialRank, decideEnrolment, decideRecovery, type EnrolmentDecision } from '@fpa/assurance';
import { CHALLENGE_METHODS, type ChallengeMethod, type ChallengeRegistry } from '@fpa/challenge-kit';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { CLOCK, OAuthError, type Clock } from '@fpa/oauth-core';
import { UsersService } from '@fpa/users';
import { profileOf, SessionFacts } from '../loop/session-facts.service';
import type { Turn } from '../loop/turn';

export type EnrolmentPath = 'authentication' | 'recovery';

/**
 * The enrolment rule (issue 7 finding 1), asked twice: when an enrolment begins (so the client
 * learns early) and when it completes (authoritative). A user who holds credentials adds one only
 * after a fresh authentication in this session at least as strong as the strongest they hold
 * (ENROLMENT_MAX_AGE_SECONDS); the recovery path replaces that with the client's recovery policy.
 */
@Injectable()
export class EnrolmentGuard {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CHALLENGE_METHODS) private readonly methods: ChallengeRegistry,
    private readonly users: UsersService,
    private readonly facts: SessionFacts,
  ) {}

  async decide(turn: Turn, method: ChallengeMethod, path: EnrolmentPath): Promise<EnrolmentDecision & { readonly userId: string }> {
    // FED-16: a federating client's caller (not first-party) never enrols or recovers a credential here.
    if (turn.caller.mode === 'federated') throw new OAuthError('invalid_request', 'enrolment and recovery are not offered to a federating client’s callers (FED-16)');
    const userId = await this.facts.userId(turn);
    // A credential is bound to an account: only a user this session verified may enrol one.
    if (!userId) throw new OAuthError('invalid_request', `${method.id} enrolment needs a user verified by another method in this auth_session first (e.g. email_otp)`);
    const since = this.clock.nowMs() - this.config.challenge.enrolmentMaxAgeSeconds * 1000;
    const fresh = (await this.facts.events(turn)).filter((e) => e.counted && e.userId === userId && e.atMs >= since);
    if (path === 'recovery') {
      const user = await this.facts.user(turn);
      const identifiers = [...(user?.emailVerified ? (['email'] as const) : []), ...(user?.phoneVerified ? (['phone'] as const) : [])];
      return { ...decideRecovery(turn.policy.recovery, identifiers, fresh), userId };
    }
    const held = (await this.users.heldCredentials(userId)).map((c) => {
      const m = this.methods.get(c.method);
      const rank = m ? credentialRank(profileOf(m)) : 3;
      return { rank: c.provisional ? Math.min(rank, Math.max(1, c.basisRank)) : rank };
    });
    return { ...decideEnrolment(held, fresh, credentialRank(profileOf(method))), userId };
  }
}
