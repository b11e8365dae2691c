import { Inject, Injectable } from '@nestjs/common';
import { TokenMetrics } from './token.metrics';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { KeyManager } from '@fpa/keys';
import { CLOCK, OAuthError, type Clock, type Form, type RequestInfo } from '@fpa/oauth-core';
import { AuditService } from '@fpa/platform';
import { DeviceSessionRepository, isUsable, RefreshTokenService, RevocationService } from '@fpa/session';
import { ClientAuthenticator, type AuthenticatedClient } from './client-authenticator.service';

type Claims = Record<string, unknown>;

/**
 * RFC 7662 introspection and RFC 7009 revocation for our JWT access tokens and opaque refresh
 * tokens. An access token is active when its signature, issuer and expiry hold, it is not revoked,
 * and its session (when it has one) is still usable.
 */
@Injectable()
export class TokenIntrospectionService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly keys: KeyManager,
    private readonly authenticator: ClientAuthenticator,
    private readonly refreshTokens: RefreshTokenService,
    private readonly revocations: RevocationService,
    private readonly sessions: DeviceSessionRepository,
    private readonly audit: AuditService,
    private readonly metrics: TokenMetrics,
  ) {}

  async introspect(form: Form, request: RequestInfo): Promise<Claims> {
    const caller = await this.authenticator.authenticate(form, request, '/introspect');
    // RFC 7662 §2.1: only protected resources we trust may ask.
    if (caller.client.type !== 'confidential' || !caller.client.permissions.includes('introspect')) {
      throw new OAuthError('unauthorized_client', 'this client may not introspect tokens');
    }
    const token = form.token;
    if (!token) throw new OAuthError('invalid_request', 'missing parameter token');
    const result = await this.lookup(token, form.token_type_hint);
    if (!result.active) return { active: false };
    // A resource server with a configured audience only learns about tokens meant for it.
    const aud = result.claims.aud;
    if (caller.client.resources.length > 0 && !(typeof aud === 'string' && caller.client.resources.includes(aud))) return { active: false };
    return { active: true, ...result.claims };
  }

  async revoke(form: Form, request: RequestInfo): Promise<void> {
    const caller = await this.authenticator.authenticate(form, request, '/revoke');
    const token = form.token;
    if (!token) throw new OAuthError('invalid_request', 'missing parameter token');
    const now = new Date(this.clock.nowMs());
    const mayRevoke = (owner: unknown): boolean => owner === caller.client.id || caller.client.permissions.includes('revoke');
    const hint = form.token_type_hint;
    // RFC 7009 §2.1: the hint is only a hint; search the other kind too.
    if (hint !== 'refresh_token' && looksLikeJwt(token)) {
      const at = await this.verifyAccessToken(token);
      if (at) {
        if (!mayRevoke(at.client_id)) throw new OAuthError('unauthorized_client', 'the token was issued to another client');
        const n = await this.revocations.revokeAccessTokens([{ jti: String(at.jti), expiresAt: new Date(Number(at.exp) * 1000) }], 'revoked_by_client', now);
        if (n > 0) this.recordRevocation('access_token', caller, request, String(at.auth_session ?? ''));
        return;
      }
    }
    const rt = await this.refreshTokens.find(token);
    if (!rt) return; // RFC 7009 §2.2: an unknown token is not an error.
    if (!mayRevoke(rt.clientId)) throw new OAuthError('unauthorized_client', 'the token was issued to another client');
    const accessTokens = await this.refreshTokens.revokeFamily(rt.familyId, 'revoked_by_client', now);
    await this.revocations.revokeAccessTokens(accessTokens, 'refresh_token_revoked', now);
    this.recordRevocation('refresh_token', caller, request, rt.authSession);
  }

  private recordRevocation(kind: string, caller: AuthenticatedClient, request: RequestInfo, authSession: string): void {
    this.metrics.revocations.inc({ kind });
    this.audit.record({ type: 'token.revoked', clientId: caller.client.id, authSession, ip: request.ip, requestId: request.requestId, details: { kind } });
  }

  private async lookup(token: string, hint: string | undefined): Promise<{ active: boolean; claims: Claims }> {
    const inactive = { active: false, claims: {} };
    const nowMs = this.clock.nowMs();
    if (hint !== 'refresh_token' && looksLikeJwt(token)) {
      const at = await this.verifyAccessToken(token);
      if (!at) return inactive;
      if (await this.revocations.isRevoked(String(at.jti))) return inactive;
      // A device's or user's token lives as long as its session; a client's own token
      // (client_credentials, RFC 6749 §4.4) has none and lives until it expires or is revoked.
      if (at.auth_session !== undefined) {
        const session = typeof at.auth_session === 'string' ? await this.sessions.find(at.auth_session) : undefined;
        if (!session || !isUsable(session, nowMs)) return inactive;
      }
      const cnf = at.cnf as { jkt?: string; jwk?: unknown; jwe?: unknown } | undefined;
      // ACE-6 (RFC 9200 §5.9.2): a PoP token's cnf is REQUIRED in the introspection response.
      const pop = cnf?.jwk !== undefined || cnf?.jwe !== undefined;
      // DPOP-22: cnf.jkt at top level, token_type DPoP for bound tokens.
      return {
        active: true,
        claims: {
          scope: at.scope,
          client_id: at.client_id,
          sub: at.sub,
          aud: at.aud,
          iss: at.iss,
          exp: at.exp,
          iat: at.iat,
          jti: at.jti,
          token_type: pop ? 'PoP' : cnf?.jkt ? 'DPoP' : 'Bearer',
          ...(pop ? { cnf } : cnf?.jkt ? { cnf: { jkt: cnf.jkt } } : {}),
          ...(at.auth_session === undefined ? {} : { auth_session: at.auth_session }),
          // RAR-7 (RFC 9396 §9.2): the member's name is fixed.
          ...(Array.isArray(at.authorization_details) ? { authorization_details: at.authorization_details } : {}),
        },
      };
    }
    const rt = await this.refreshTokens.find(token);
    if (!rt || rt.status !== 'active' || rt.expiresAt.getTime() <= nowMs) return inactive;
    const session = await this.sessions.find(rt.authSession);
    if (!session || !isUsable(session, nowMs)) return inactive;
    return {
      active: true,
      claims: {
        scope: rt.scope,
        client_id: rt.clientId,
        sub: rt.subject,
        aud: rt.audience,
        iss: this.config.http.issuer,
        exp: Math.floor(rt.expiresAt.getTime() / 1000),
        iat: Math.floor(rt.createdAt.getTime() / 1000),
        ...(rt.jkt ? { cnf: { jkt: rt.jkt } } : {}),
        auth_session: rt.authSession,
        // A refresh token stands for the whole grant (RFC 9396 §6.1).
        ...(rt.authorizationDetails?.length ? { authorization_details: rt.authorizationDetails } : {}),
      },
    };
  }

  /** Claims of a valid, unexpired access token this server signed; undefined otherwise. */
  private async verifyAccessToken(token: string): Promise<Claims | undefined> {
    try {
      const { payload } = await this.keys.verify(token, {
        typ: 'at+jwt',
        issuer: this.config.http.issuer,
        requiredClaims: ['exp', 'jti', 'client_id'],
        currentDate: new Date(this.clock.nowMs()),
        clockToleranceSeconds: this.config.clockSkewSeconds,
      });
      return payload as Claims;
    } catch {
      return undefined;
    }
  }
}

function looksLikeJwt(token: string): boolean {
  return token.length < 8192 && token.split('.').length === 3;
}
