import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { UserAuthenticationEntity, UserCredentialEntity, UserEntity } from './user.entity';
import { AttemptLimiter } from './attempt-limiter.service';
import { UsersService } from './users.service';

@Module({
  imports: [TypeOrmModule.forFeature([UserEntity, UserAuthenticationEntity, UserCredentialEntity])],
  providers: [UsersService, AttemptLimiter],
  exports: [UsersService, AttemptLimiter],
})
export class UsersModule {}
