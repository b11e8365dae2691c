import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { DpopNonces, DpopProofError, verifyDpopProof, type VerifiedDpopProof } from '@fpa/crypto';
import { CLOCK, OAuthError, singleHeader, type Clock, type RequestInfo } from '@fpa/oauth-core';
import { DpopMetrics } from './dpop.metrics';
import { acceptableSince, StoreKeys, type ClaimResult, type SingleUseClaim } from '@fpa/store';

export interface ValidatedDpopProof extends VerifiedDpopProof {
  /** Claim this in the ephemeral store (with the request's other single-use claims) before acting. */
  readonly replayClaim: SingleUseClaim;
}

/** The proof as one of a request's single-use values, and the refusal when its claim fails. */
export interface DpopCompanion {
  readonly claim: SingleUseClaim;
  readonly refuse: (result: Exclude<ClaimResult, 'claimed'>) => OAuthError;
}

/**
 * DPoP at the authorization server (RFC 9449 §4.3, §5, §8): one proof per request, verified
 * against the endpoint's external URL, with a server nonce that any replica can check (an HMAC over
 * a time window, see DpopNonces). The proof's `jti` is returned as a claim for the caller to make
 * single-use, so a nonce retry never burns the client's other one-time values.
 */
@Injectable()
export class DpopService {
  private readonly nonces: DpopNonces;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly metrics: DpopMetrics,
  ) {
    const secret = config.dpop.nonceSecret;
    if (!secret) throw new Error('DPOP_NONCE_SECRET is not configured');
    this.nonces = new DpopNonces(secret, config.dpop.nonceWindowSeconds, `as|${config.http.issuer}`);
  }

  currentNonce(): string {
    return this.nonces.current(this.clock.nowSeconds());
  }

  /** The external URL of an endpoint path, as the proof's `htu` must name it (DPOP-12). */
  endpointUrl(path: string): string {
    return `${this.config.http.issuer}${path}`;
  }

  /**
   * Returns undefined when the request carries no DPoP header. Throws `invalid_dpop_proof` for a
   * bad proof and `use_dpop_nonce` (with a fresh `DPoP-Nonce`) when the nonce is missing or stale.
   */
  async validate(request: RequestInfo, endpointPath: string, accessToken?: string): Promise<ValidatedDpopProof | undefined> {
    const header = singleHeader(request.headers, 'dpop');
    if (header === undefined) return undefined;
    if (header === 'multiple') throw this.refuse('multiple', 'exactly one DPoP header is allowed');
    const now = this.clock.nowSeconds();
    let proof: VerifiedDpopProof;
    try {
      proof = await verifyDpopProof(header, {
        htm: request.method,
        htu: this.endpointUrl(endpointPath),
        algorithms: this.config.dpop.algs,
        nowSeconds: now,
        maxAgeSeconds: this.config.dpop.proofMaxAgeSeconds,
        skewSeconds: this.config.clockSkewSeconds,
        // A request that also carries an access token (the challenge endpoint's device way in) binds it with `ath` (DPOP-15).
        accessToken,
      });
    } catch (e) {
      if (e instanceof DpopProofError) throw this.refuse(e.failure, e.message);
      throw e;
    }
    // DPOP-13, DPOP-27: a proof without the current nonce is answered with a new one.
    if (proof.nonce === undefined || !this.nonces.isValid(proof.nonce, now)) {
      this.metrics.failures.inc({ reason: 'nonce' });
      throw new OAuthError('use_dpop_nonce', 'Authorization server requires nonce in DPoP proof', {
        headers: { 'DPoP-Nonce': this.nonces.current(now) },
        reason: proof.nonce === undefined ? 'nonce_missing' : 'nonce_stale',
      });
    }
    const skew = this.config.clockSkewSeconds;
    const ttlSeconds = this.config.dpop.proofMaxAgeSeconds + 2 * skew + 1;
    // Issue 8: a proof that could have been accepted before the store lost its data is refused.
    return { ...proof, replayClaim: { key: StoreKeys.dpopJti('as', proof.jkt, proof.jti), ttlSeconds, acceptableSince: acceptableSince({ issuedAt: proof.iat, skewSeconds: skew }) } };
  }

  /**
   * The proof's `jti` as a companion of the request's other single-use values (the client
   * assertion): claimed with them in one round trip, refused when already spent (DPOP-14) or when
   * it predates the store's generation.
   */
  replayCompanion(proof: ValidatedDpopProof): DpopCompanion {
    return { claim: proof.replayClaim, refuse: (result) => this.claimRefusal(result)! };
  }

  /** The refusal for a proof whose claim did not succeed; undefined when it was claimed. */
  claimRefusal(result: ClaimResult | undefined): OAuthError | undefined {
    if (result === 'claimed') return undefined;
    if (result === 'predates_generation') return this.refuse('predates_generation', 'DPoP proof was made before the replay cache lost its data; sign a new proof');
    return this.refuse('replay', 'DPoP proof jti was already used');
  }

  refuse(reason: string, description: string): OAuthError {
    this.metrics.failures.inc({ reason });
    return new OAuthError('invalid_dpop_proof', description, { reason: `dpop_${reason}` });
  }
}
