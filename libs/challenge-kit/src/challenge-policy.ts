import { OAuthError } from '@fpa/oauth-core';

export const ACR = {
  /** Any one method. */
  oneFactor: 'urn:first-party-auth:acr:1fa',
  /** A verified email address. */
  email: 'urn:first-party-auth:acr:email',
  /** A verified phone number. */
  phone: 'urn:first-party-auth:acr:phone',
  /** Two independent factors, or a passkey with user verification. */
  mfa: 'urn:first-party-auth:acr:mfa',
  /** Phishing-resistant: a passkey. */
  phr: 'urn:first-party-auth:acr:phr',
} as const;

/**
 * Which methods satisfy which `acr_values` (CONTRACT §5; issue 3: "data in configuration, per
 * client"): each acr lists method sets, any one of which satisfies it. A client's
 * `challenge_policy` replaces the parts it names.
 */
export interface ChallengePolicy {
  /** Methods this client may use, in the order they are offered. */
  readonly methods: readonly string[];
  /** The acr asked for when the request names none. */
  readonly defaultAcr: string;
  readonly acr: Readonly<Record<string, readonly (readonly string[])[]>>;
}

export const DEFAULT_POLICY: ChallengePolicy = {
  methods: ['passkey', 'email_otp', 'sms_otp', 'totp'],
  defaultAcr: ACR.oneFactor,
  acr: {
    [ACR.oneFactor]: [['passkey'], ['email_otp'], ['sms_otp']],
    [ACR.email]: [['email_otp']],
    [ACR.phone]: [['sms_otp']],
    [ACR.mfa]: [['passkey'], ['email_otp', 'totp'], ['sms_otp', 'totp'], ['email_otp', 'sms_otp']],
    [ACR.phr]: [['passkey']],
  },
};

/** A client's `challenge_policy` (JSON, snake_case) merged over the default. */
export function policyFor(clientPolicy: unknown, enabledMethods: readonly string[]): ChallengePolicy {
  const p = (clientPolicy ?? {}) as { methods?: string[]; default_acr?: string; acr?: Record<string, string[][]> };
  const methods = (p.methods ?? DEFAULT_POLICY.methods).filter((m) => enabledMethods.includes(m));
  return { methods, defaultAcr: p.default_acr ?? DEFAULT_POLICY.defaultAcr, acr: { ...DEFAULT_POLICY.acr, ...(p.acr ?? {}) } };
}

export interface PolicyDecision {
  /** The first requested acr the verified methods satisfy. */
  readonly satisfiedAcr: string | undefined;
  /** Methods that could still complete a requested acr, in the policy's order. */
  readonly open: readonly string[];
  readonly requested: readonly string[];
}

/** Parses `acr_values` (space-separated, in preference order, FIPA-13); unknown values are refused. */
export function requestedAcrs(policy: ChallengePolicy, acrValues: string | undefined): string[] {
  const values = (acrValues ?? '').split(' ').filter(Boolean);
  if (values.length === 0) return [policy.defaultAcr];
  const unknown = values.filter((v) => !(v in policy.acr));
  if (unknown.length > 0) throw new OAuthError('invalid_request', `unsupported acr_values: ${unknown.join(' ')}`);
  return values;
}

export function decide(policy: ChallengePolicy, requested: readonly string[], verified: readonly string[]): PolicyDecision {
  const done = new Set(verified);
  const satisfiedAcr = requested.find((acr) => (policy.acr[acr] ?? []).some((set) => set.every((m) => done.has(m))));
  const open = new Set<string>();
  if (!satisfiedAcr) {
    for (const acr of requested) {
      for (const set of policy.acr[acr] ?? []) {
        for (const m of set) if (!done.has(m) && policy.methods.includes(m)) open.add(m);
      }
    }
  }
  return { satisfiedAcr, open: policy.methods.filter((m) => open.has(m)), requested };
}
