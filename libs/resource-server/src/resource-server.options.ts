import type { CryptoKey, VerificationKey } from '@fpa/crypto';
import type { Clock } from '@fpa/oauth-core';
import type { EphemeralStore } from '@fpa/store';

export type KeyResolver = (header: Record<string, unknown>) => Promise<VerificationKey>;

export interface ResourceServerOptions {
  /** The authorization server's issuer identifier; `iss` must equal it (AT-5). */
  readonly issuer: string;
  /** This resource server's identifier(s); `aud` must contain one (AT-5). */
  readonly audience: string | readonly string[];
  /**
   * Where the AS keys come from: a JWKS URL or a local resolver. A fetched JWKS is trusted for
   * `cacheSeconds` (default 60, the `max-age` the suite's `/jwks` sends); an unknown `kid` refetches
   * sooner (at most every 30 s). A key retired at the AS therefore keeps verifying here for up to
   * `cacheSeconds` — lower it to shorten that window (docs/operations.md, "Rotate signing keys").
   */
  readonly keys: { readonly jwksUri: string; readonly cacheSeconds?: number } | { readonly resolve: KeyResolver };
  /** External base URL of this API (scheme://host[:port]); the proof's `htu` is checked against it (DPOP-12). */
  readonly publicBaseUrl: string;
  /** Replay cache for proof `jti`s and revocation flags — the AS's Redis when the RS shares it. */
  readonly store: EphemeralStore;
  /** Resource-server nonces (DPOP-28); unset = nonces not required. */
  readonly nonce?: { readonly secret: Uint8Array; readonly windowSeconds?: number };
  readonly dpopAlgorithms?: readonly string[];
  readonly proofMaxAgeSeconds?: number;
  readonly clockSkewSeconds?: number;
  /**
   * Check the AS's revocation flags (revoked token ids and sessions) in `store`. Default true. After
   * the store lost its data the check fails closed (503 `temporarily_unavailable`, Retry-After)
   * until an authorization-server replica has refilled the flags from PostgreSQL.
   */
  readonly checkRevocation?: boolean;
  /** Called once per refused request with a machine reason (`replay`, `predates_generation`, an error code…), e.g. to count it. */
  readonly onRefusal?: (reason: string) => void;
  readonly clock?: Clock;
  /**
   * Issue 12 (seed 001): also accept PoP tokens (`Authorization: PoP <token>` + `PoP` proof header,
   * docs/pop-tokens.md). `decryptionKey`: this server's private key, whose public half is registered
   * at the AS — it opens `cnf.jwe` (symmetric PoP keys); without it only client keys (`cnf.jwk`) work.
   */
  readonly pop?: { readonly decryptionKey?: CryptoKey | Promise<CryptoKey> };
}

export const RESOURCE_SERVER_OPTIONS = Symbol('RESOURCE_SERVER_OPTIONS');
