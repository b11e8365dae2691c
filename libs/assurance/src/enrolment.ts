import type { AcrRule, RecoveryPolicy } from './acr-policy';
import { meets } from './assess';
import { eventRank, type AuthEvent } from './events';

/** A credential the user already holds, as the enrolment rule sees it. */
export interface HeldCredential {
  /** Its strength when used (`credentialRank`), or, while provisional, the strength of what enrolled it. */
  readonly rank: number;
}

export type EnrolmentDecision =
  | {
      readonly allowed: true;
      /** The strength of the fresh factor that allows it (kept with the credential). */
      readonly basisRank: number;
      /** Enrolled on a weaker factor than itself: it proves nothing more until used in a later, separate authentication. */
      readonly provisional: boolean;
    }
  | {
      readonly allowed: false;
      readonly reason: 'no_fresh_authentication' | 'weaker_than_held';
      readonly needRank: number;
      /** Recovery: the identifiers still to verify freshly. */
      readonly needIdentifiers?: readonly ('email' | 'phone')[];
    };

/**
 * Issue 7 finding 1, the enrolment rule: a user who already holds credentials may enrol a new one
 * only after a fresh authentication (`fresh`: counted events of this user in this session, within
 * the enrolment max_age) with a factor at least as strong as the strongest they hold. The first
 * credential of an account needs any fresh authentication. A credential stronger than the factor
 * that enrolled it is provisional.
 */
export function decideEnrolment(held: readonly HeldCredential[], fresh: readonly AuthEvent[], newCredentialRank: number): EnrolmentDecision {
  const needRank = held.reduce((max, c) => Math.max(max, c.rank), 1);
  if (fresh.length === 0) return { allowed: false, reason: 'no_fresh_authentication', needRank };
  const basisRank = Math.max(...fresh.map(eventRank));
  if (basisRank < needRank) return { allowed: false, reason: 'weaker_than_held', needRank };
  return { allowed: true, basisRank, provisional: newCredentialRank > basisRank };
}

/**
 * The recovery path (a lost passkey): the recovery policy's requirement met by fresh events —
 * by default every identifier the account has verified — allows a replacement credential even
 * though it is weaker than what the user holds. The replacement is always provisional and on hold.
 */
export function decideRecovery(policy: RecoveryPolicy, accountIdentifiers: readonly ('email' | 'phone')[], fresh: readonly AuthEvent[]): EnrolmentDecision {
  if (!policy.enabled) return { allowed: false, reason: 'no_fresh_authentication', needRank: Infinity };
  const rule: AcrRule = policy.requires === 'identifiers' ? { verified: accountIdentifiers.length > 0 ? accountIdentifiers : ['email'] } : policy.requires;
  if (!meets(rule, fresh)) {
    const needIdentifiers = (rule.verified ?? []).filter((v) => !fresh.some((e) => e.verifies === v));
    return { allowed: false, reason: 'no_fresh_authentication', needRank: 1, ...(needIdentifiers.length > 0 ? { needIdentifiers } : {}) };
  }
  return { allowed: true, basisRank: Math.max(...fresh.map(eventRank)), provisional: true };
}

/**
 * A credential used now: does the event count, and is a provisional credential promoted? Nothing
 * enrolled in this very flow counts in it — whatever its strength, a credential made on the
 * strength of this flow's factors proves no more than they did (a passkey-only user enrolling a
 * TOTP app must not reach `mfa` with it). A provisional credential becomes a full one when used in
 * a later, separate authentication, and not before a recovery hold ends.
 */
export function provisionalUse(
  credential: { readonly provisional: boolean; readonly enrolledFlow: string | null; readonly trustedAfterMs: number | null },
  flowId: string,
  nowMs: number,
): { readonly counted: boolean; readonly promote: boolean } {
  if (credential.enrolledFlow !== null && credential.enrolledFlow === flowId) return { counted: false, promote: false };
  if (credential.trustedAfterMs !== null && nowMs < credential.trustedAfterMs) return { counted: false, promote: false };
  return { counted: true, promote: credential.provisional };
}
