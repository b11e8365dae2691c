import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { CLOCK, OAuthError, type Clock } from '@fpa/oauth-core';
import { RefreshTokenService } from '@fpa/session';
import type { RefreshTokenStore } from '../ports';
import type { GrantContext, GrantHandler, GrantPlugin, GrantResult } from '../grant-handler';
import { audienceFor, grantedScopes, scopeClaim } from '../scope-policy';
import { TokenIssuer } from '../token-issuer.service';
import { PopBinder, POP_PARAMETERS } from '../pop/pop-binder.service';

/**
 * `client_credentials` two ways, by how the client authenticated:
 * - a device (seed 000 (C)/(D), seed 004, CONTRACT §4): a `private_key_jwt` signed by the device
 *   key of `device_auth_session`; the access token carries that `auth_session` (and its user, once
 *   one is attached), with a refresh token bound to the session;
 * - a confidential client on its own behalf (RFC 6749 §4.4) — with its secret or its own key set:
 *   `sub` is the client, no session, no user and no refresh token (§4.4.3).
 * Either token is bound to the DPoP key when a proof was sent. A public client without a device
 * session has no credentials to speak of and is refused.
 */
@Injectable()
export class ClientCredentialsGrant implements GrantHandler {
  static readonly plugin: GrantPlugin = { grantType: 'client_credentials', handler: ClientCredentialsGrant };

  readonly grantType = 'client_credentials';
  readonly parameters = ['scope', 'resource', ...POP_PARAMETERS] as const;
  readonly clientAuth = 'required' as const;
  readonly dpop = 'supported' as const;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly issuer: TokenIssuer,
    @Inject(RefreshTokenService) private readonly refreshTokens: RefreshTokenStore,
    private readonly pop: PopBinder,
  ) {}

  async handle(ctx: GrantContext): Promise<GrantResult> {
    const auth = ctx.client!;
    const session = auth.deviceSession;
    const client = auth.client;
    if (!session) {
      if (client.type !== 'confidential' || auth.method === 'none') {
        throw new OAuthError('unauthorized_client', 'client_credentials requires a device assertion carrying device_auth_session');
      }
      return this.clientToken(ctx);
    }
    if (auth.method !== 'private_key_jwt') {
      throw new OAuthError('unauthorized_client', 'client_credentials requires a device assertion carrying device_auth_session');
    }
    const scopes = grantedScopes(client, ctx.form.scope);
    // Seed 001 (C): a PoP token for one registered resource server, when the client asks for one.
    const pop = await this.pop.forNewToken({ client, form: ctx.form, dpop: ctx.dpop }, (requested) => audienceFor(client, requested, this.config.tokens.defaultAudience));
    const audience = pop?.audience ?? audienceFor(client, ctx.form.resource, this.config.tokens.defaultAudience);
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
      pop,
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
            pop: pop?.stored,
          },
          new Date(this.clock.nowMs()),
          this.issuer.refreshTokenExpiry(),
        )
      : Promise.resolve(undefined);
    // The refresh-token insert and the signature overlap: the request costs one round trip plus one signature.
    const [refreshToken, accessToken] = await Promise.all([refresh, this.issuer.sign(prepared), this.pop.remember(client.id, pop, this.issuer.refreshTokenExpiry())]);
    return { body: this.issuer.response(prepared, accessToken, refreshToken), issued: { tokenType: prepared.tokenType } };
  }

  /** RFC 6749 §4.4: the client's own token — no session, no user, no refresh token (§4.4.3). */
  private async clientToken(ctx: GrantContext): Promise<GrantResult> {
    const client = ctx.client!.client;
    const audienceOf = (requested: string | undefined): string => audienceFor(client, requested, this.config.tokens.defaultAudience);
    const pop = await this.pop.forNewToken({ client, form: ctx.form, dpop: ctx.dpop }, audienceOf);
    const prepared = this.issuer.prepare({
      clientId: client.id,
      // RFC 9068 §2.2: for client credentials the subject is the client.
      subject: client.id,
      authSession: undefined,
      audience: pop?.audience ?? audienceOf(ctx.form.resource),
      scope: scopeClaim(grantedScopes(client, ctx.form.scope), undefined),
      jkt: ctx.dpop?.jkt,
      pop,
    });
    const [accessToken] = await Promise.all([this.issuer.sign(prepared), this.pop.remember(client.id, pop, this.issuer.refreshTokenExpiry())]);
    return { body: this.issuer.response(prepared, accessToken, undefined), issued: { tokenType: prepared.tokenType } };
  }
}
