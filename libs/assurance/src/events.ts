/**
 * What one authentication proved, as the assurance function sees it (STYLE.md: "assurance is one
 * pure function over authentication events (method, what it proved — UV, amr — and when)").
 */
export interface AuthEvent {
  /** The method that authenticated (`challenge_type`). */
  readonly method: string;
  /** RFC 8176 values it proved. */
  readonly amr: readonly string[];
  /** When (epoch ms). */
  readonly atMs: number;
  /** Independence class: two events of one class are one factor (two e-mail codes are not MFA). */
  readonly factor: string;
  /** 2 for a multi-factor authenticator (a passkey that verified the user), else 1. */
  readonly factors: 1 | 2;
  readonly phishingResistant: boolean;
  /** The identifier it verified, if any. */
  readonly verifies?: 'email' | 'phone';
  /** Made with an enrolled credential (a TOTP app, a passkey), not a one-time code to a channel. */
  readonly credentialBound: boolean;
  /**
   * false: made with a provisional credential (enrolled in the same flow on a weaker factor, or
   * still on its recovery hold). Such an event proves nothing the enrolment did not already prove,
   * so assurance ignores it.
   */
  readonly counted: boolean;
}

/** What a method proves when it succeeds, at best (used to tell which methods can still help). */
export interface MethodProfile {
  readonly id: string;
  readonly amr: readonly string[];
  readonly factor: string;
  readonly phishingResistant: boolean;
  readonly multiFactorCapable: boolean;
  readonly verifies?: 'email' | 'phone';
}

/**
 * The strength of one event, for the enrolment rule ("a factor at least as strong as the
 * strongest they hold"): a code to a channel (1) < an enrolled OTP app (2) < a phishing-resistant
 * key (3); a key that also verified the user is one more (4).
 */
export function eventRank(e: Pick<AuthEvent, 'phishingResistant' | 'credentialBound' | 'factors'>): number {
  return (e.phishingResistant ? 3 : e.credentialBound ? 2 : 1) + (e.factors === 2 ? 1 : 0);
}

/** The strength of a credential of this method when it is used (a passkey: 3, a TOTP app: 2). */
export function credentialRank(p: Pick<MethodProfile, 'phishingResistant'>): number {
  return p.phishingResistant ? 3 : 2;
}

/**
 * The events that count for a request: counted, and within `max_age` when one was asked for
 * (FIPA-13, OIDC Core §3.1.2.1). Authentications made since the request began (`requestedAtMs`) are
 * the re-authentication it asked for and always count — even with `max_age=0`.
 */
export function freshEvents(events: readonly AuthEvent[], nowMs: number, maxAgeSeconds: number | undefined, requestedAtMs?: number): AuthEvent[] {
  const since = maxAgeSeconds === undefined ? -Infinity : Math.min(nowMs - maxAgeSeconds * 1000, requestedAtMs ?? Infinity);
  return events.filter((e) => e.counted && e.atMs >= since && e.atMs <= nowMs);
}
