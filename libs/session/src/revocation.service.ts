import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { AuditService } from '@fpa/platform';
import { EPHEMERAL_STORE, StoreKeys, type EphemeralStore } from '@fpa/store';
import { DeviceSessionCache, SESSION_CHANGE_FLAG_SECONDS } from './device-session-cache';
import { DeviceSessionRepository } from './device-session.repository';
import { RefreshTokenService } from './refresh-token.service';
import type { IssuedAccessTokenRef } from './refresh-token.service';
import { TokenRevocationEntity } from './token-revocation.entity';

/** How long a revoked session's flag is kept: as long as any access token of the session can live. */
export function sessionFlagSeconds(config: AppConfig): number {
  // Also outlives any token process's cached copy of the session (DeviceSessionCache).
  return Math.max(config.tokens.accessTokenTtl + config.clockSkewSeconds + 60, SESSION_CHANGE_FLAG_SECONDS);
}

/**
 * Access-token revocation. PostgreSQL is the record (introspection reads it); the Redis flag with
 * the token's remaining lifetime lets resource servers check revocation in one round trip.
 */
@Injectable()
export class RevocationService {
  constructor(
    @InjectRepository(TokenRevocationEntity) private readonly repo: Repository<TokenRevocationEntity>,
    @Inject(EPHEMERAL_STORE) private readonly store: EphemeralStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly sessions: DeviceSessionRepository,
    private readonly refreshTokens: RefreshTokenService,
    private readonly audit: AuditService,
    private readonly cache: DeviceSessionCache,
  ) {}

  /**
   * Ends a device session (a lost or compromised device): the session can no longer authenticate,
   * its refresh tokens are revoked, its access tokens are deny-listed, and resource servers see the
   * session flag for as long as any token of it can live. Returns false for an unknown session.
   */
  async revokeSession(authSession: string, reason: string, now: Date): Promise<boolean> {
    const changed = await this.sessions.revoke(authSession, now);
    // The flag below (set after the write) is what token processes' cached copies are checked against.
    this.cache.forget(authSession);
    const accessTokens = await this.refreshTokens.revokeSession(authSession, reason, now);
    await this.revokeAccessTokens(accessTokens, reason, now);
    await this.store.setFlags([{ key: StoreKeys.revokedSession(authSession), ttlSeconds: sessionFlagSeconds(this.config) }]);
    this.audit.record({ type: 'device_session.revoked', authSession, details: { reason, known: changed, accessTokens: accessTokens.length } });
    return changed;
  }

  async revokeAccessTokens(tokens: readonly IssuedAccessTokenRef[], reason: string, now: Date): Promise<number> {
    const live = tokens.filter((t) => t.expiresAt.getTime() > now.getTime());
    if (live.length === 0) return 0;
    await this.repo
      .createQueryBuilder()
      .insert()
      .into(TokenRevocationEntity)
      .values(live.map((t) => ({ jti: t.jti, expiresAt: t.expiresAt, revokedAt: now, reason })))
      .orIgnore()
      .execute();
    await this.store.setFlags(
      live.map((t) => ({ key: StoreKeys.revokedAccessToken(t.jti), ttlSeconds: (t.expiresAt.getTime() - now.getTime()) / 1000 + 5 })),
    );
    return live.length;
  }

  async isRevoked(jti: string): Promise<boolean> {
    return this.repo.existsBy({ jti });
  }
}
