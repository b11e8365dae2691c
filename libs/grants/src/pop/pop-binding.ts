import type { JWK } from '@fpa/crypto';

/**
 * What a refresh-token family keeps of its PoP key (`refresh_tokens.pop`, ACE-5): the client's public
 * key, or the JWE the generated symmetric key travels in (never the symmetric key itself).
 */
export type StoredPop = { readonly jwk: JWK; readonly kid: string } | { readonly jwe: string; readonly kid: string };

/** One PoP token's binding (seed 001 (D), CONTRACT §6): what goes into the token, the response and the refresh token. */
export interface PopBinding {
  readonly kind: 'asymmetric' | 'symmetric';
  /** The one resource server the token is for (its `aud`). */
  readonly audience: string;
  /** The access token's `cnf` (RFC 7800): `{"jwk"}` for the client's key, `{"jwe"}` for a generated one (CNF-1, CNF-2). */
  readonly tokenCnf: Record<string, unknown>;
  /** The response's `cnf` (ACE-3): the generated key on issuance, its `kid` on refresh; the client's key (with its `kid`) echoed. */
  readonly responseCnf: Record<string, unknown>;
  /** RFC 9201 §3.2 `rs_cnf`: the resource server's public key; CONTRACT §6: whenever one audience is named — always, for our PoP tokens. */
  readonly rsCnf: Record<string, unknown>;
  readonly stored: StoredPop;
}
