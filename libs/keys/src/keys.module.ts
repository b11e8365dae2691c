import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { KeyManager } from './key-manager.service';
import { SigningKeyEntity } from './signing-key.entity';

@Module({
  imports: [TypeOrmModule.forFeature([SigningKeyEntity])],
  providers: [KeyManager],
  exports: [KeyManager],
})
export class KeysModule {}
