import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import {
  DpopNonces,
  DpopProofError,
  JwtVerificationError,
  remoteKeySet,
  verifyDpopProof,
  verifyJwt,
  type JWTPayload,
} from '@fpa/crypto';
import { OAuthError, SystemClock, type Clock } from '@fpa/oauth-core';
import { acceptableSince, StoreKeys } from '@fpa/store';
import { RESOURCE_SERVER_OPTIONS, type KeyResolver, type ResourceServerOptions } from './resource-server.options';
import { PopProofVerifier } from './pop-proof.verifier';

/** What a handler learns about the caller (seed 004: "The auth_session is included in the access token"). */
export interface AccessContext {
  readonly token: string;
  readonly claims: JWTPayload & Record<string, unknown>;
  readonly authSession: string | undefined;
  readonly clientId: string | undefined;
  readonly subject: string | undefined;
  readonly scopes: readonly string[];
  /** The DPoP key's thumbprint; for a PoP token (issue 12) the thumbprint of its `cnf.jwk`, or the `kid` of its symmetric key. */
  readonly jkt: string;
  /** `DPoP`, or `PoP` for a seed-001 PoP token. */
  readonly scheme: 'DPoP' | 'PoP';
}

export type AuthenticatedRequest = Request & { fpaAccess?: AccessContext };

const DEFAULT_ALGS = ['ES256', 'ES384', 'EdDSA', 'Ed25519', 'PS256', 'RS256'];
/** The `max-age` the suite's `/jwks` answers with. */
export const DEFAULT_JWKS_CACHE_SECONDS = 60;

/**
 * Accepts `Authorization: DPoP <at+jwt>` with a DPoP proof (RFC 9449 §7, DPOP-23): validates the
 * token (AT-5), the proof (DPOP-4…15) and its binding to `cnf.jkt`, the RS nonce when configured
 * (DPOP-28), proof replay, and revocation; refuses a DPoP-bound token sent as Bearer (DPOP-25).
 * Failures are 401 with `WWW-Authenticate: DPoP error="…"`.
 */
@Injectable()
export class DpopAuthGuard implements CanActivate {
  private readonly resolveKey: KeyResolver;
  private readonly nonces: DpopNonces | undefined;
  private readonly clock: Clock;
  private readonly algs: readonly string[];
  private readonly audiences: readonly string[];
  private readonly pop: PopProofVerifier | undefined;

  constructor(@Inject(RESOURCE_SERVER_OPTIONS) private readonly options: ResourceServerOptions) {
    this.resolveKey =
      'jwksUri' in options.keys
        ? remoteKeySet(options.keys.jwksUri, { cacheMaxAge: (options.keys.cacheSeconds ?? DEFAULT_JWKS_CACHE_SECONDS) * 1000 })
        : options.keys.resolve;
    this.nonces = options.nonce ? new DpopNonces(options.nonce.secret, options.nonce.windowSeconds ?? 60, `rs|${options.publicBaseUrl}`) : undefined;
    this.clock = options.clock ?? new SystemClock();
    this.algs = options.dpopAlgorithms ?? DEFAULT_ALGS;
    this.audiences = typeof options.audience === 'string' ? [options.audience] : options.audience;
    this.pop = options.pop ? new PopProofVerifier(options, this.algs, this.clock) : undefined;
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const req = http.getRequest<AuthenticatedRequest>();
    // Class- and method-level guards may both name this guard; a proof is checked (and claimed) once.
    if (req.fpaAccess) return true;
    const res = http.getResponse<Response>();
    // DPOP-26: browsers may read the challenge headers.
    res.setHeader('Access-Control-Expose-Headers', 'WWW-Authenticate, DPoP-Nonce');
    req.fpaAccess = await this.authenticate(req);
    if (this.nonces) res.setHeader('DPoP-Nonce', this.nonces.current(this.clock.nowSeconds()));
    return true;
  }

  async authenticate(req: Request): Promise<AccessContext> {
    const authorization = req.headers.authorization;
    if (!authorization) throw this.challenge(undefined, undefined);
    const match = /^(\S+) +(\S+)$/.exec(authorization);
    if (!match) throw this.challenge('invalid_request', 'malformed Authorization header', 400);
    const [, scheme, token] = match;
    if (this.pop && scheme.toLowerCase() === 'pop') return this.authenticatePop(req, token);
    const claims = await this.verifyToken(token);
    const jkt = (claims.cnf as { jkt?: unknown } | undefined)?.jkt;
    if (scheme.toLowerCase() === 'bearer') {
      // DPOP-25: a DPoP-bound token must not be accepted as a bearer token (downgrade).
      throw this.challenge('invalid_token', typeof jkt === 'string' ? 'DPoP-bound token presented as Bearer' : 'this API accepts DPoP-bound tokens only');
    }
    if (scheme.toLowerCase() !== 'dpop') throw this.challenge('invalid_request', 'unsupported authorization scheme', 400);
    if (typeof jkt !== 'string') throw this.challenge('invalid_token', 'access token is not DPoP-bound');

    const proofHeader = req.headers.dpop;
    if (typeof proofHeader !== 'string' || /[,\s]/.test(proofHeader)) throw this.challenge('invalid_dpop_proof', 'exactly one DPoP proof is required');
    const now = this.clock.nowSeconds();
    let proof;
    try {
      proof = await verifyDpopProof(proofHeader, {
        htm: req.method,
        htu: `${this.options.publicBaseUrl}${req.originalUrl.split('?')[0]}`,
        algorithms: this.algs,
        nowSeconds: now,
        maxAgeSeconds: this.options.proofMaxAgeSeconds ?? 60,
        skewSeconds: this.options.clockSkewSeconds ?? 5,
        accessToken: token,
      });
    } catch (e) {
      if (e instanceof DpopProofError) throw this.challenge('invalid_dpop_proof', e.message);
      throw e;
    }
    // DPOP-15: the proof key is the key the token is bound to.
    if (proof.jkt !== jkt) throw this.challenge('invalid_dpop_proof', 'DPoP proof key does not match the access token binding');
    // DPOP-28
    if (this.nonces && (proof.nonce === undefined || !this.nonces.isValid(proof.nonce, now))) {
      throw this.challenge('use_dpop_nonce', 'Resource server requires nonce in DPoP proof', 401, { 'DPoP-Nonce': this.nonces.current(now) });
    }
    const skew = this.options.clockSkewSeconds ?? 5;
    const ttl = (this.options.proofMaxAgeSeconds ?? 60) + 2 * skew + 1;
    const [claimed] = await this.options.store.claimEachOnce([
      { key: StoreKeys.dpopJti(`rs|${this.options.publicBaseUrl}`, proof.jkt, proof.jti), ttlSeconds: ttl, acceptableSince: acceptableSince({ issuedAt: proof.iat, skewSeconds: skew }) },
    ]);
    if (claimed === 'replayed') throw this.challenge('invalid_dpop_proof', 'DPoP proof was already used', 401, {}, 'replay');
    // Issue 8: the store lost its data since this proof could have been used; a new proof works.
    if (claimed === 'predates_generation') throw this.challenge('invalid_dpop_proof', 'DPoP proof was made before the replay cache lost its data; sign a new proof', 401, {}, 'predates_generation');
    return this.accessContext(token, claims, jkt, 'DPoP');
  }

  /**
   * Issue 12 (seed 001 (E)/(F)): `Authorization: PoP <token>` with a `PoP` proof of the token's `cnf`
   * key (PopProofVerifier); the proof's `jti` is single use here as a DPoP proof's is; failures are
   * `WWW-Authenticate: PoP` challenges.
   */
  private async authenticatePop(req: Request, token: string): Promise<AccessContext> {
    const claims = await this.verifyToken(token, 'PoP');
    const possession = await this.pop!.verify(req, token, claims);
    if ('error' in possession) throw this.challenge(possession.error, possession.description, possession.error === 'invalid_request' ? 400 : 401, {}, possession.reason, 'PoP');
    const skew = this.options.clockSkewSeconds ?? 5;
    const ttl = (this.options.proofMaxAgeSeconds ?? 60) + 2 * skew + 1;
    const [claimed] = await this.options.store.claimEachOnce([
      { key: StoreKeys.dpopJti(`rs-pop|${this.options.publicBaseUrl}`, possession.keyId, possession.jti), ttlSeconds: ttl, acceptableSince: acceptableSince({ issuedAt: possession.iat, skewSeconds: skew }) },
    ]);
    if (claimed === 'replayed') throw this.challenge('invalid_token', 'PoP proof was already used', 401, {}, 'pop_replay', 'PoP');
    if (claimed === 'predates_generation') throw this.challenge('invalid_token', 'PoP proof was made before the replay cache lost its data; sign a new proof', 401, {}, 'predates_generation', 'PoP');
    return this.accessContext(token, claims, possession.keyId, 'PoP');
  }

  /** After the proof: the token's and its session's revocation flags, then what the handler sees. Both schemes. */
  private async accessContext(token: string, claims: AccessContext['claims'], jkt: string, scheme: 'DPoP' | 'PoP'): Promise<AccessContext> {
    const authSession = typeof claims.auth_session === 'string' ? claims.auth_session : undefined;
    if (this.options.checkRevocation !== false) {
      const keys = [StoreKeys.revokedAccessToken(String(claims.jti))];
      if (authSession) keys.push(StoreKeys.revokedSession(authSession));
      if (await this.revoked(keys)) throw this.challenge('invalid_token', 'access token is revoked', 401, {}, 'revoked', scheme);
    }
    return {
      token,
      claims,
      authSession,
      clientId: typeof claims.client_id === 'string' ? claims.client_id : undefined,
      subject: claims.sub,
      scopes: typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : [],
      jkt,
      scheme,
    };
  }

  /** The store fails closed (503) while its revocation flags are being refilled after a loss. */
  private async revoked(keys: readonly string[]): Promise<boolean> {
    try {
      return await this.options.store.anyFlagged(keys);
    } catch (e) {
      if (e instanceof OAuthError) this.options.onRefusal?.(e.reason ?? e.code);
      throw e;
    }
  }

  /** AT-5: typ, issuer, audience, signature, expiry. */
  private async verifyToken(token: string, scheme: 'DPoP' | 'PoP' = 'DPoP'): Promise<JWTPayload & Record<string, unknown>> {
    if (token.length > 8192) throw this.challenge('invalid_token', 'access token is too large', 401, {}, undefined, scheme);
    try {
      const { payload } = await verifyJwt(token, this.resolveKey, {
        algorithms: ['ES256', 'RS256', 'PS256', 'ES384', 'EdDSA'],
        typ: 'at+jwt',
        issuer: this.options.issuer,
        audience: this.audiences,
        requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id'],
        currentDate: new Date(this.clock.nowMs()),
        clockToleranceSeconds: this.options.clockSkewSeconds ?? 5,
      });
      return payload as JWTPayload & Record<string, unknown>;
    } catch (e) {
      if (e instanceof JwtVerificationError) {
        throw this.challenge('invalid_token', e.failure === 'expired' ? 'access token is expired' : 'access token is invalid', 401, {}, undefined, scheme);
      }
      throw e;
    }
  }

  /**
   * RFC 6750 §3 / RFC 9449 §7.1 challenge; without an error when no credentials were sent. Every
   * refusal is reported to `options.onRefusal` with `reason` (default: the error code).
   */
  challenge(error: string | undefined, description: string | undefined, status = 401, headers: Record<string, string> = {}, reason?: string, scheme: 'DPoP' | 'PoP' = 'DPoP'): OAuthError {
    this.options.onRefusal?.(reason ?? error ?? 'no_credentials');
    const params = [error ? `error="${error}"` : undefined, description ? `error_description="${description.replace(/["\\]|[^\x20-\x7E]/g, '')}"` : undefined, `algs="${this.algs.join(' ')}"`]
      .filter(Boolean)
      .join(', ');
    const code = (error ?? 'invalid_token') as 'invalid_token';
    return new OAuthError(code, description ?? 'authentication required', {
      status,
      headers: { 'WWW-Authenticate': `${scheme} ${params}`, ...headers },
      reason: reason ?? error ?? 'no_credentials',
    });
  }
}
