import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthorizationCodeService } from './authorization-code.service';
import { DeviceSessionEntity } from './device-session.entity';
import { DeviceSessionRepository } from './device-session.repository';
import { RefreshTokenEntity } from './refresh-token.entity';
import { RefreshTokenService } from './refresh-token.service';
import { RevocationService } from './revocation.service';
import { TokenRevocationEntity } from './token-revocation.entity';

@Module({
  imports: [TypeOrmModule.forFeature([DeviceSessionEntity, RefreshTokenEntity, TokenRevocationEntity])],
  providers: [DeviceSessionRepository, RefreshTokenService, RevocationService, AuthorizationCodeService],
  exports: [DeviceSessionRepository, RefreshTokenService, RevocationService, AuthorizationCodeService],
})
export class SessionModule {}
