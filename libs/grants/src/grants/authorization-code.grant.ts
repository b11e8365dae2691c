import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { AuthorizationDetailsRegistry } from '@fpa/authz-request';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { constantTimeEqual, isValidCodeVerifier, s256CodeChallenge } from '@fpa/crypto';
import { CLOCK, OAuthError, type Clock } from '@fpa/oauth-core';
import { AuditService } from '@fpa/platform';
import { AuthorizationCodeService, isUsable, RefreshTokenService, RevocationService, type AuthorizationCode } from '@fpa/session';
import { detailsForToken } from '../authorization-details-policy';
import type { AccessTokenRevoker, AuditTrail, AuthorizationCodeStore, DetailsNarrower, RefreshTokenStore } from '../ports';
import type { GrantContext, GrantHandler, GrantPlugin, GrantResult } from '../grant-handler';
import { grantedScopes, scopeClaim, scopesWithoutSession } from '../scope-policy';
import { TokenIssuer } from '../token-issuer.service';
import { PopBinder, POP_PARAMETERS } from '../pop/pop-binder.service';

/**
 * `authorization_code` for codes from the authorization challenge endpoint (FIPA-29): no
 * `redirect_uri`; the code is single use, short-lived and bound to the client, the session, the
 * PKCE challenge (GEN-2) and the DPoP key of the challenge requests (FIPA-33). A reused code is
 * refused, and — when the replay proves every one of those bindings — the tokens issued from it are
 * revoked (GEN-3).
 */
@Injectable()
export class AuthorizationCodeGrant implements GrantHandler {
  static readonly plugin: GrantPlugin = { grantType: 'authorization_code', handler: AuthorizationCodeGrant };

  readonly grantType = 'authorization_code';
  readonly parameters = ['code', 'code_verifier', 'redirect_uri', 'scope', 'authorization_details', 'resource', ...POP_PARAMETERS] as const;
  readonly clientAuth = 'required' as const;
  readonly dpop = 'supported' as const;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(AuthorizationCodeService) private readonly codes: AuthorizationCodeStore,
    @Inject(RefreshTokenService) private readonly refreshTokens: RefreshTokenStore,
    @Inject(RevocationService) private readonly revocations: AccessTokenRevoker,
    private readonly issuer: TokenIssuer,
    @Inject(AuditService) private readonly audit: AuditTrail,
    @Inject(AuthorizationDetailsRegistry) private readonly details: DetailsNarrower,
    private readonly pop: PopBinder,
  ) {}

  async handle(ctx: GrantContext): Promise<GrantResult> {
    const value = ctx.form.code;
    if (!value) throw new OAuthError('invalid_request', 'missing parameter code');
    const auth = ctx.client!;
    const now = new Date(this.clock.nowMs());
    // The code and its session: one statement.
    const found = await this.codes.findWithSession(value);
    if (!found) throw new OAuthError('invalid_grant', 'unknown authorization code');
    const { code, session } = found;
    // Binding before reuse detection (GEN-3), as the refresh grant checks its key first: only the
    // party the code was issued to — its client, its DPoP key, its PKCE verifier, its device
    // session — may trigger the revocation of the tokens issued from it. A stranger replaying a
    // leaked code must not be able to end the legitimate session.
    this.checkBinding(code, ctx);
    if (code.consumedAt) {
      await this.reuse(code, ctx, now);
      throw new OAuthError('invalid_grant', 'the authorization code was already used; the tokens issued from it are revoked', { reason: 'code_reuse' });
    }
    if (code.expiresAt.getTime() <= now.getTime()) throw new OAuthError('invalid_grant', 'the authorization code is expired');
    if (!session || !isUsable(session, now.getTime()) || session.user?.userId !== code.userId) {
      throw new OAuthError('invalid_grant', 'the session of this code is expired or revoked');
    }

    const scopes = grantedScopes(auth.client, ctx.form.scope, scopesWithoutSession(code.scope));
    // RAR-5/RAR-6: refused before the code is spent, so the client can ask again.
    const authorizationDetails = detailsForToken(this.details, auth.client, code.authorizationDetails, ctx.form.authorization_details);
    const granted = code.resource ?? this.config.tokens.defaultAudience;
    // RFC 8707 §2.2: the token request may name the resource the authorization was for, no other.
    const sameResource = (requested: string | undefined): string => {
      if (requested !== undefined && requested !== granted) throw new OAuthError('invalid_target', 'the authorization code was granted for another resource');
      return granted;
    };
    sameResource(ctx.form.resource);
    // Seed 001 (C): the grant with `resource` and `req_cnf` (or `token_type=pop`) → a PoP token.
    const pop = await this.pop.forNewToken({ client: auth.client, form: ctx.form, dpop: ctx.dpop }, sameResource);
    const prepared = this.issuer.prepare({
      clientId: auth.client.id,
      subject: code.userId,
      authSession: code.authSession,
      audience: granted,
      pop,
      scope: scopeClaim(scopes, code.authSession),
      jkt: ctx.dpop?.jkt,
      user: { userId: code.userId, authTime: code.authTime, amr: code.amr, acr: code.acr, verified: session.user.verified },
      authorizationDetails,
    });
    // The refresh-token family starts in the statement that consumes the code: the loser of a race
    // writes nothing, and a reuse that finds the code consumed finds the family to revoke.
    const refresh = auth.client.grantTypes.includes('refresh_token')
      ? {
          grant: {
            clientId: auth.client.id,
            authSession: code.authSession,
            subject: code.userId,
            jkt: ctx.dpop?.jkt ?? null,
            scope: prepared.claims.scope as string,
            audience: prepared.claims.aud as string,
            accessTokenJti: prepared.jti,
            accessTokenExpiresAt: prepared.expiresAt,
            // RFC 9396 §6.1: the grant, not the subset this access token carries.
            authorizationDetails: code.authorizationDetails,
            pop: pop?.stored,
          },
          expiresAt: this.issuer.refreshTokenExpiry(),
          familyId: randomUUID(),
        }
      : undefined;
    const redeemed = await this.codes.redeem(value, now, { accessTokenJti: prepared.jti, accessTokenExpiresAt: prepared.expiresAt }, refresh);
    if (!redeemed) {
      await this.reuse((await this.codes.find(value)) ?? code, ctx, now);
      throw new OAuthError('invalid_grant', 'the authorization code was already used; the tokens issued from it are revoked', { reason: 'code_reuse' });
    }
    const refreshToken = redeemed.refreshToken;
    const [accessToken] = await Promise.all([this.issuer.sign(prepared), this.pop.remember(auth.client.id, pop, this.issuer.refreshTokenExpiry())]);
    return { body: this.issuer.response(prepared, accessToken, refreshToken), issued: { tokenType: prepared.tokenType } };
  }

  /** Everything the code is bound to (FIPA-29, FIPA-33, GEN-2); any mismatch is invalid_grant. */
  private checkBinding(code: AuthorizationCode, ctx: GrantContext): void {
    const auth = ctx.client!;
    if (code.clientId !== auth.client.id) throw new OAuthError('invalid_grant', 'the authorization code was issued to another client');
    // FIPA-33 / DPOP-30: the token request proves the key the challenge requests used.
    if (code.dpopJkt !== null && ctx.dpop?.jkt !== code.dpopJkt) throw new OAuthError('invalid_grant', 'the authorization code is bound to another DPoP key');
    this.checkPkce(code, ctx.form.code_verifier);
    // RFC 6749 §4.1.3: a code sent to a redirect URI is redeemed with exactly that URI; the native
    // endpoint's codes (FIPA-29) were sent to none and take none.
    if (code.redirectUri === null && ctx.form.redirect_uri !== undefined) throw new OAuthError('invalid_request', 'codes from the authorization challenge endpoint are redeemed without redirect_uri');
    if (code.redirectUri !== null && ctx.form.redirect_uri !== code.redirectUri) throw new OAuthError('invalid_grant', 'redirect_uri does not match the one of the authorization request');
    // A device redeeming with its assertion must be the device whose session the user attached to.
    if (auth.deviceSession && auth.deviceSession.authSession !== code.authSession) throw new OAuthError('invalid_grant', 'the authorization code belongs to another session');
  }

  /** RFC 7636 §4.6: S256 only; a verifier without a challenge (or the reverse) is refused. */
  private checkPkce(code: AuthorizationCode, verifier: string | undefined): void {
    if (code.codeChallenge === null) {
      if (verifier !== undefined) throw new OAuthError('invalid_grant', 'no code_challenge was sent for this code');
      return;
    }
    if (verifier === undefined) throw new OAuthError('invalid_grant', 'code_verifier is required');
    if (!isValidCodeVerifier(verifier) || !constantTimeEqual(s256CodeChallenge(verifier), code.codeChallenge)) {
      throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge');
    }
  }

  /** GEN-3: revoke what the first redemption issued. */
  private async reuse(code: AuthorizationCode, ctx: GrantContext, now: Date): Promise<void> {
    const accessTokens = code.refreshFamilyId ? await this.refreshTokens.revokeFamily(code.refreshFamilyId, 'code_reuse', now) : [];
    if (code.accessTokenJti && code.accessTokenExpiresAt) accessTokens.push({ jti: code.accessTokenJti, expiresAt: code.accessTokenExpiresAt });
    await this.revocations.revokeAccessTokens(accessTokens, 'code_reuse', now);
    this.audit.record({
      type: 'authorization_code.reuse_detected',
      outcome: 'failure',
      clientId: code.clientId,
      authSession: code.authSession,
      subject: code.userId,
      ip: ctx.request.ip,
      requestId: ctx.request.requestId,
      details: { revokedAccessTokens: accessTokens.length },
    });
  }
}
