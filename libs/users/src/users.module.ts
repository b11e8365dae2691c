import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { UserAuthenticationEntity, UserCredentialEntity, UserEntity } from './user.entity';
import { UsersService } from './users.service';

@Module({
  imports: [TypeOrmModule.forFeature([UserEntity, UserAuthenticationEntity, UserCredentialEntity])],
  providers: [UsersService],
  exports: [UsersService],
})
export class UsersModule {}
