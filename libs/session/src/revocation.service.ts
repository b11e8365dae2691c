import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { EPHEMERAL_STORE, StoreKeys, type EphemeralStore } from '@fpa/store';
import type { IssuedAccessTokenRef } from './refresh-token.service';
import { TokenRevocationEntity } from './token-revocation.entity';

/**
 * Access-token revocation. PostgreSQL is the record (introspection reads it); the Redis flag with
 * the token's remaining lifetime lets resource servers check revocation in one round trip.
 */
@Injectable()
export class RevocationService {
  constructor(
    @InjectRepository(TokenRevocationEntity) private readonly repo: Repository<TokenRevocationEntity>,
    @Inject(EPHEMERAL_STORE) private readonly store: EphemeralStore,
  ) {}

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
