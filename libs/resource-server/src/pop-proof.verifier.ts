import type { Request } from 'express';
import { CryptoInputError, decryptPopKey, DpopProofError, thumbprint, verifyDpopProof, verifySymmetricPopProof, type CryptoKey, type JWK } from '@fpa/crypto';
import type { Clock } from '@fpa/oauth-core';
import type { ResourceServerOptions } from './resource-server.options';

/** What a verified PoP proof yields: the key it proved (thumbprint or symmetric `kid`) and its single-use `jti`. */
export interface VerifiedPossession {
  readonly kind: 'asymmetric' | 'symmetric';
  /** RFC 7638 thumbprint of the client's key, or the generated key's `kid`. */
  readonly keyId: string;
  readonly jti: string;
  readonly iat: number;
}

export type PopRefusal = { readonly error: 'invalid_token' | 'invalid_request'; readonly description: string; readonly reason: string };

/**
 * Proof of possession of a PoP token's `cnf` key at a resource server (issue 12, seed 001 (E),
 * CNF-3), presented as `Authorization: PoP <token>` with the proof in the `PoP` header:
 * - `cnf.jwk` (the client's key): a DPoP-style proof (RFC 9449 §4.2: `typ: dpop+jwt`, `jwk`,
 *   `htm`, `htu`, `iat`, `jti`, `ath`) signed with that key — DPOP-5…12, 14, 15 as for DPoP;
 * - `cnf.jwe` (a key the suite generated): decrypted with this server's private key, then a JWS
 *   `HS256` with `typ: pop+jwt` over the same claims (docs/pop-tokens.md), verified with it. A token
 *   encrypted for another resource server does not decrypt here and is refused.
 * Replay (the `jti`) is the guard's: it claims it in the shared store.
 */
export class PopProofVerifier {
  constructor(
    private readonly options: ResourceServerOptions,
    private readonly algs: readonly string[],
    private readonly clock: Clock,
  ) {}

  async verify(req: Request, token: string, claims: Record<string, unknown>): Promise<VerifiedPossession | PopRefusal> {
    const cnf = claims.cnf as { jwk?: unknown; jwe?: unknown } | undefined;
    const proof = req.headers.pop;
    const common = {
      htm: req.method,
      htu: `${this.options.publicBaseUrl}${req.originalUrl.split('?')[0]}`,
      nowSeconds: this.clock.nowSeconds(),
      maxAgeSeconds: this.options.proofMaxAgeSeconds ?? 60,
      skewSeconds: this.options.clockSkewSeconds ?? 5,
      accessToken: token,
    };
    if (cnf?.jwk !== undefined && typeof cnf.jwk === 'object' && cnf.jwk !== null) {
      if (typeof proof !== 'string' || /[,\s]/.test(proof)) return refuse('invalid_request', 'exactly one PoP proof is required', 'pop_missing');
      let verified;
      try {
        verified = await verifyDpopProof(proof, { ...common, algorithms: this.algs });
      } catch (e) {
        if (e instanceof DpopProofError) return refuse('invalid_token', `PoP proof: ${e.message.replace(/^DPoP proof /, '')}`, `pop_${e.failure}`);
        throw e;
      }
      // CNF-3: the proof key is the token's confirmation key.
      if (verified.jkt !== (await thumbprint(cnf.jwk as JWK))) return refuse('invalid_token', 'PoP proof key does not match the access token cnf', 'pop_key_mismatch');
      return { kind: 'asymmetric', keyId: verified.jkt, jti: verified.jti, iat: verified.iat };
    }
    if (typeof cnf?.jwe === 'string') {
      const decryptionKey = this.options.pop?.decryptionKey;
      if (!decryptionKey) return refuse('invalid_token', 'this resource server takes no symmetric PoP keys', 'pop_no_decryption_key');
      let key;
      try {
        key = await decryptPopKey(cnf.jwe, (await decryptionKey) as CryptoKey);
      } catch (e) {
        if (e instanceof CryptoInputError) return refuse('invalid_token', 'the PoP key of this token was not encrypted for this resource server', 'pop_jwe');
        throw e;
      }
      if (typeof proof !== 'string' || /[,\s]/.test(proof)) return refuse('invalid_request', 'exactly one PoP proof is required', 'pop_missing');
      try {
        const verified = await verifySymmetricPopProof(proof, key, common);
        return { kind: 'symmetric', keyId: key.jwk.kid, jti: verified.jti, iat: verified.iat };
      } catch (e) {
        if (e instanceof CryptoInputError) return refuse('invalid_token', e.message, `pop_${e.reason}`);
        throw e;
      }
    }
    return refuse('invalid_token', 'access token is not a PoP token', 'pop_not_pop');
  }
}

function refuse(error: PopRefusal['error'], description: string, reason: string): PopRefusal {
  return { error, description, reason };
}
