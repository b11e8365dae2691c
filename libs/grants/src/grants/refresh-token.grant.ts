import { Inject, Injectable } from '@nestjs/common';
import { TokenMetrics } from '../token.metrics';
import { AuthorizationDetailsRegistry } from '@fpa/authz-request';
import { CLOCK, OAuthError, type Clock } from '@fpa/oauth-core';
import { AuditService } from '@fpa/platform';
import { DeviceSessionRepository, isUsable, RefreshTokenService, RevocationService, type RefreshTokenEntity } from '@fpa/session';
import { detailsForToken } from '../authorization-details-policy';
import type { AccessTokenRevoker, AuditTrail, DetailsNarrower, RefreshTokenStore, SessionLookup } from '../ports';
import type { GrantContext, GrantHandler, GrantPlugin, GrantResult } from '../grant-handler';
import { grantedScopes, scopeClaim, scopesWithoutSession } from '../scope-policy';
import { TokenIssuer } from '../token-issuer.service';
import { PopBinder, POP_PARAMETERS } from '../pop/pop-binder.service';
import type { StoredPop } from '../pop/pop-binding';

/**
 * `refresh_token` with rotation (RFC 6749 §6, RFC 9700 §4.14): every use returns a new refresh
 * token; presenting one that was already rotated revokes the whole family and the access tokens
 * issued in it. A refresh token bound to a DPoP key needs a proof with that key (DPOP-18); an
 * unbound one from a public client needs the device assertion again.
 */
@Injectable()
export class RefreshTokenGrant implements GrantHandler {
  static readonly plugin: GrantPlugin = { grantType: 'refresh_token', handler: RefreshTokenGrant };

  readonly grantType = 'refresh_token';
  readonly parameters = ['refresh_token', 'scope', 'authorization_details', 'resource', ...POP_PARAMETERS] as const;
  readonly clientAuth = 'required' as const;
  readonly dpop = 'supported' as const;

  constructor(
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly issuer: TokenIssuer,
    @Inject(RefreshTokenService) private readonly refreshTokens: RefreshTokenStore,
    @Inject(RevocationService) private readonly revocations: AccessTokenRevoker,
    @Inject(DeviceSessionRepository) private readonly sessions: SessionLookup,
    @Inject(AuditService) private readonly audit: AuditTrail,
    private readonly metrics: TokenMetrics,
    @Inject(AuthorizationDetailsRegistry) private readonly details: DetailsNarrower,
    private readonly pop: PopBinder,
  ) {}

  async handle(ctx: GrantContext): Promise<GrantResult> {
    const presented = ctx.form.refresh_token;
    if (!presented) throw new OAuthError('invalid_request', 'missing parameter refresh_token');
    const auth = ctx.client!;
    const now = new Date(this.clock.nowMs());
    const rt = await this.refreshTokens.find(presented);
    if (!rt) throw new OAuthError('invalid_grant', 'unknown refresh token');
    if (rt.clientId !== auth.client.id) throw new OAuthError('invalid_grant', 'refresh token was issued to another client');
    // DPOP-18: same key as at issuance. Checked before reuse detection: a party holding an old
    // token but not the key cannot use it, and must not be able to end the session either.
    if (rt.jkt !== null && ctx.dpop?.jkt !== rt.jkt) {
      throw new OAuthError('invalid_grant', 'refresh token is bound to another DPoP key', { reason: 'refresh_key_mismatch' });
    }
    if (rt.status === 'rotated') {
      await this.reuseDetected(rt, ctx, now);
      throw new OAuthError('invalid_grant', 'refresh token was already used; the session’s tokens are revoked', { reason: 'refresh_reuse' });
    }
    if (rt.status !== 'active') throw new OAuthError('invalid_grant', 'refresh token is revoked');
    if (rt.expiresAt.getTime() <= now.getTime()) throw new OAuthError('invalid_grant', 'refresh token is expired');
    if (rt.jkt === null && auth.client.type === 'public' && auth.deviceSession?.authSession !== rt.authSession) {
      throw new OAuthError('invalid_grant', 'an unbound refresh token needs the device assertion of its session');
    }
    // The device assertion's session was just confirmed in this request's claim round trip
    // (ClientAuthenticator): no second read of the same row.
    const session = auth.deviceSession?.authSession === rt.authSession ? auth.deviceSession : await this.sessions.find(rt.authSession);
    if (!session || !isUsable(session, now.getTime())) throw new OAuthError('invalid_grant', 'the device session is expired or revoked');

    // ACE-5: a PoP family keeps its key and its audience; a DPoP or Bearer one cannot become PoP.
    let pop;
    if (rt.pop) pop = await this.pop.rebind(rt.pop as StoredPop, rt.audience, ctx.form);
    else {
      this.pop.refuseUpgrade(ctx.form);
      if (ctx.form.resource !== undefined && ctx.form.resource !== rt.audience) throw new OAuthError('invalid_target', 'a refresh keeps the audience of the token it refreshes');
    }
    const scopes = grantedScopes(auth.client, ctx.form.scope, scopesWithoutSession(rt.scope));
    // RAR-5: the same details as the grant, or a subset the request names.
    const authorizationDetails = detailsForToken(this.details, auth.client, rt.authorizationDetails, ctx.form.authorization_details);
    const prepared = this.issuer.prepare({
      clientId: rt.clientId,
      subject: rt.subject,
      authSession: rt.authSession,
      audience: rt.audience,
      scope: scopeClaim(scopes, rt.authSession),
      jkt: rt.jkt ?? ctx.dpop?.jkt,
      // The session's current authentication state (a step-up since issuance shows up here).
      user: session.user,
      authorizationDetails,
      pop,
    });
    const next = await this.refreshTokens.rotate(
      rt.id,
      {
        clientId: rt.clientId,
        authSession: rt.authSession,
        subject: prepared.claims.sub as string,
        jkt: rt.jkt ?? ctx.dpop?.jkt ?? null,
        scope: rt.scope,
        audience: rt.audience,
        accessTokenJti: prepared.jti,
        accessTokenExpiresAt: prepared.expiresAt,
        // Rotation keeps the grant whole, however this request narrowed its access token (RFC 9396 §6.1).
        authorizationDetails: rt.authorizationDetails,
        pop: rt.pop,
      },
      now,
    );
    if (next === undefined) {
      // Lost a race with another redemption of the same token: that is reuse too.
      await this.reuseDetected(rt, ctx, now);
      throw new OAuthError('invalid_grant', 'refresh token was already used; the session’s tokens are revoked', { reason: 'refresh_reuse' });
    }
    const accessToken = await this.issuer.sign(prepared);
    return { body: this.issuer.response(prepared, accessToken, next), issued: { tokenType: prepared.tokenType } };
  }

  private async reuseDetected(rt: RefreshTokenEntity, ctx: GrantContext, now: Date): Promise<void> {
    const accessTokens = await this.refreshTokens.revokeFamily(rt.familyId, 'reuse_detected', now);
    await this.revocations.revokeAccessTokens(accessTokens, 'refresh_token_reuse', now);
    this.metrics.refreshReuse.inc();
    this.audit.record({
      type: 'refresh_token.reuse_detected',
      outcome: 'failure',
      clientId: rt.clientId,
      authSession: rt.authSession,
      subject: rt.subject,
      ip: ctx.request.ip,
      requestId: ctx.request.requestId,
      details: { familyId: rt.familyId, revokedAccessTokens: accessTokens.length },
    });
  }
}
