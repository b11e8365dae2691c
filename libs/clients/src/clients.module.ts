import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ClientAdminService } from './client-admin.service';
import { ClientEntity } from './client.entity';
import { ClientRegistry } from './client-registry.service';
import { ClientsFileLoader } from './clients-file.loader';

@Module({
  imports: [TypeOrmModule.forFeature([ClientEntity])],
  providers: [ClientRegistry, ClientAdminService, ClientsFileLoader],
  exports: [ClientRegistry, ClientAdminService],
})
export class ClientsModule {}
