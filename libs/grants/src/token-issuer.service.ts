import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { randomToken } from '@fpa/crypto';
import { KeyManager } from '@fpa/keys';
import { CLOCK, type Clock } from '@fpa/oauth-core';
import type { SessionUser } from '@fpa/session';
import type { AccessTokenSigner } from './ports';
import type { PopBinding } from './pop/pop-binding';

export interface AccessTokenRequest {
  readonly clientId: string;
  readonly subject: string;
  /** The device or user session; undefined for a client's token for itself (client_credentials). */
  readonly authSession: string | undefined;
  readonly audience: string;
  /** Full scope claim (see scopeClaim). */
  readonly scope: string;
  /** DPoP key thumbprint; undefined = Bearer. */
  readonly jkt: string | undefined;
  /** The user the session is attached to, once a challenge succeeded: `sub` becomes the user (AT-2/AT-3). */
  readonly user?: SessionUser;
  /** RFC 9396 §7/§9 (RAR-6/7): the authorization details this token carries (a subset of the grant's). */
  readonly authorizationDetails?: readonly Record<string, unknown>[];
  /** Seed 001 / CONTRACT §6: a PoP token — its `cnf` replaces the DPoP `cnf.jkt`, its audience is the one resource server. */
  readonly pop?: PopBinding;
}

export type IssuedTokenType = 'DPoP' | 'Bearer' | 'PoP';

export interface PreparedAccessToken {
  readonly jti: string;
  readonly expiresAt: Date;
  readonly claims: Record<string, unknown>;
  readonly tokenType: IssuedTokenType;
  readonly expiresIn: number;
  readonly pop?: PopBinding;
}

/**
 * Builds and signs RFC 9068 access tokens (`typ: at+jwt`, AT-1/AT-2, DPOP-21). Preparing and
 * signing are separate so a grant can record the token id (e.g. in a refresh-token rotation)
 * before spending a signature on a request that may still lose a race.
 */
@Injectable()
export class TokenIssuer {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(KeyManager) private readonly keys: AccessTokenSigner,
  ) {}

  prepare(req: AccessTokenRequest): PreparedAccessToken {
    const now = this.clock.nowSeconds();
    const ttl = this.config.tokens.accessTokenTtl;
    const jti = randomToken(16);
    const claims: Record<string, unknown> = {
      iss: this.config.http.issuer,
      sub: req.subject,
      aud: req.audience,
      client_id: req.clientId,
      iat: now,
      exp: now + ttl,
      jti,
      scope: req.scope,
    };
    if (req.authSession !== undefined) claims.auth_session = req.authSession;
    // CNF-1: one PoP key per token — the PoP key when there is one (ACE-6), else the DPoP key (DPOP-21).
    if (req.pop) claims.cnf = req.pop.tokenCnf;
    else if (req.jkt !== undefined) claims.cnf = { jkt: req.jkt };
    if (req.user) Object.assign(claims, userClaims(req.user));
    // RAR-7 (RFC 9396 §9.1): a top-level claim, for the resource server.
    if (req.authorizationDetails?.length) claims.authorization_details = req.authorizationDetails;
    const tokenType: IssuedTokenType = req.pop ? 'PoP' : req.jkt !== undefined ? 'DPoP' : 'Bearer';
    return { jti, expiresAt: new Date((now + ttl) * 1000), claims, tokenType, expiresIn: ttl, pop: req.pop };
  }

  async sign(prepared: PreparedAccessToken): Promise<string> {
    return (await this.keys.sign(prepared.claims, 'at+jwt')).token;
  }

  refreshTokenExpiry(): Date {
    return new Date(this.clock.nowMs() + this.config.tokens.refreshTokenTtl * 1000);
  }

  /** RFC 6749 §5.1 response (`token_type` `PoP` for PoP tokens, ACE-3), plus `auth_session` (FIPA-30) and the token's `authorization_details` (RAR-6, RFC 9396 §7). */
  response(prepared: PreparedAccessToken, accessToken: string, refreshToken: string | undefined): Record<string, unknown> {
    const body: Record<string, unknown> = {
      access_token: accessToken,
      token_type: prepared.tokenType,
      expires_in: prepared.expiresIn,
      scope: prepared.claims.scope,
    };
    if (prepared.claims.auth_session !== undefined) body.auth_session = prepared.claims.auth_session;
    if (refreshToken !== undefined) body.refresh_token = refreshToken;
    if (prepared.claims.authorization_details !== undefined) body.authorization_details = prepared.claims.authorization_details;
    // ACE-3 / seed 001 (D): the PoP key (`cnf`) and the resource server's key (`rs_cnf`, one audience).
    if (prepared.pop) {
      body.cnf = prepared.pop.responseCnf;
      body.rs_cnf = prepared.pop.rsCnf;
    }
    return body;
  }
}

/**
 * AT-3 / STEP-2: what a resource server needs to decide on the user — who (`sub`), how
 * (`amr`, RFC 8176 values), how strongly (`acr`), when (`auth_time`), and which identifiers were
 * verified (OIDC's `email_verified` / `phone_number_verified`, without the values themselves).
 */
export function userClaims(user: SessionUser): Record<string, unknown> {
  const claims: Record<string, unknown> = {
    sub: user.userId,
    auth_time: Math.floor(user.authTime.getTime() / 1000),
    amr: [...user.amr],
  };
  if (user.acr) claims.acr = user.acr;
  if (user.verified.includes('email')) claims.email_verified = true;
  if (user.verified.includes('phone')) claims.phone_number_verified = true;
  return claims;
}
