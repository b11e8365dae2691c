import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthorizationCodeService } from './authorization-code.service';
import { DeviceSessionCache } from './device-session-cache';
import { DeviceSessionEntity } from './device-session.entity';
import { DeviceSessionRepository } from './device-session.repository';
import { RefreshTokenEntity } from './refresh-token.entity';
import { RefreshTokenService } from './refresh-token.service';
import { RevocationRestorer } from './revocation-restorer.service';
import { RevocationService } from './revocation.service';
import { StoreGenerationKeeper } from './store-generation.keeper';
import { TokenRevocationEntity } from './token-revocation.entity';

@Module({
  imports: [TypeOrmModule.forFeature([DeviceSessionEntity, RefreshTokenEntity, TokenRevocationEntity])],
  providers: [DeviceSessionRepository, DeviceSessionCache, RefreshTokenService, RevocationService, AuthorizationCodeService, RevocationRestorer, StoreGenerationKeeper],
  exports: [DeviceSessionRepository, DeviceSessionCache, RefreshTokenService, RevocationService, AuthorizationCodeService, StoreGenerationKeeper],
})
export class SessionModule {}
