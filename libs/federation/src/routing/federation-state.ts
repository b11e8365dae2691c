import type { JsonObject } from '@fpa/challenge-kit';

/**
 * The federation in progress, as the flow keeps it (`FlowState.routing.federation`): which
 * downstream, what the client was told, the PKCE verifier sealed under KEY_ENCRYPTION_KEY (never
 * sent anywhere but the downstream's token endpoint), its expiry, and — while a callback redeems a
 * code — that code's hash (one redemption at a time; the flow's compare-and-set decides who).
 */
export interface FederationState {
  readonly id: string;
  readonly issuer: string;
  readonly federationUri: string;
  readonly federationBody: string;
  readonly sealedVerifier: string;
  readonly expiresAt: number;
  /** `openid` was asked downstream: its ID token names the user. */
  readonly openid: boolean;
  readonly redeeming?: string;
  /** When the redemption began (epoch ms): a claim older than REDEEM_CLAIM_MS (a process that died mid-call) no longer blocks. */
  readonly redeemingSince?: number;
}

/** Longer than any redemption can take (the outbound timeout is at most 60 s, and the token call may be made twice). */
export const REDEEM_CLAIM_MS = 150_000;

export function toJson(s: FederationState): JsonObject {
  return {
    id: s.id,
    issuer: s.issuer,
    federation_uri: s.federationUri,
    federation_body: s.federationBody,
    sealed_verifier: s.sealedVerifier,
    expires_at: s.expiresAt,
    openid: s.openid,
    ...(s.redeeming ? { redeeming: s.redeeming, redeeming_since: s.redeemingSince ?? 0 } : {}),
  };
}

export function fromJson(j: JsonObject | undefined): FederationState | undefined {
  if (!j || typeof j.id !== 'string' || typeof j.issuer !== 'string' || typeof j.federation_uri !== 'string' || typeof j.federation_body !== 'string' || typeof j.sealed_verifier !== 'string' || typeof j.expires_at !== 'number') {
    return undefined;
  }
  return {
    id: j.id,
    issuer: j.issuer,
    federationUri: j.federation_uri,
    federationBody: j.federation_body,
    sealedVerifier: j.sealed_verifier,
    expiresAt: j.expires_at,
    openid: j.openid === true,
    ...(typeof j.redeeming === 'string' ? { redeeming: j.redeeming, redeemingSince: typeof j.redeeming_since === 'number' ? j.redeeming_since : 0 } : {}),
  };
}

/** What the sealed verifier is bound to: this session's federation, no other. */
export function sealContext(authSession: string, federationId: string): string {
  return `federation:${authSession}:${federationId}`;
}
