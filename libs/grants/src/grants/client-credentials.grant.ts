import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { CLOCK, OAuthError, type Clock } from '@fpa/oauth-core';
import { RefreshTokenService } from '@fpa/session';
import type { RefreshTokenStore } from '../ports';
import type { GrantContext, GrantHandler, GrantPlugin, GrantResult } from '../grant-handler';
import { audienceFor, grantedScopes, scopeClaim } from '../scope-policy';
import { TokenIssuer } from '../token-issuer.service';

/**
 * Device client credentials (seed 000 (C)/(D), seed 004, CONTRACT §4): the client authenticated
 * with a `private_key_jwt` signed by the device key of `device_auth_session`; the access token
 * carries that `auth_session` and is bound to the DPoP key when a proof was sent.
 */
@Injectable()
export class ClientCredentialsGrant implements GrantHandler {
  static readonly plugin: GrantPlugin = { grantType: 'client_credentials', handler: ClientCredentialsGrant };

  readonly grantType = 'client_credentials';
  readonly parameters = ['scope', 'resource'] as const;
  readonly clientAuth = 'required' as const;
  readonly dpop = 'supported' as const;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly issuer: TokenIssuer,
    @Inject(RefreshTokenService) private readonly refreshTokens: RefreshTokenStore,
  ) {}

  async handle(ctx: GrantContext): Promise<GrantResult> {
    const auth = ctx.client!;
    const session = auth.deviceSession;
    if (auth.method !== 'private_key_jwt' || !session) {
      throw new OAuthError('unauthorized_client', 'client_credentials requires a device assertion carrying device_auth_session');
    }
    const client = auth.client;
    const scopes = grantedScopes(client, ctx.form.scope);
    const audience = audienceFor(client, ctx.form.resource, this.config.tokens.defaultAudience);
    const prepared = this.issuer.prepare({
      clientId: client.id,
      // RFC 9068 §2.2: for client credentials the subject is the client.
      subject: client.id,
      authSession: session.authSession,
      audience,
      scope: scopeClaim(scopes, session.authSession),
      jkt: ctx.dpop?.jkt,
      // Once a challenge attached a user to this device session, its tokens speak for that user.
      user: session.user,
    });
    const refresh = client.grantTypes.includes('refresh_token')
      ? this.refreshTokens.issue(
          {
            clientId: client.id,
            authSession: session.authSession,
            subject: prepared.claims.sub as string,
            jkt: ctx.dpop?.jkt ?? null,
            scope: prepared.claims.scope as string,
            audience,
            accessTokenJti: prepared.jti,
            accessTokenExpiresAt: prepared.expiresAt,
          },
          new Date(this.clock.nowMs()),
          this.issuer.refreshTokenExpiry(),
        )
      : Promise.resolve(undefined);
    // The refresh-token insert and the signature overlap: the request costs one round trip plus one signature.
    const [refreshToken, accessToken] = await Promise.all([refresh, this.issuer.sign(prepared)]);
    return { body: this.issuer.response(prepared, accessToken, refreshToken), issued: { tokenType: prepared.tokenType } };
  }
}
