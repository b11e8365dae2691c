import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { EntityConfigurationController } from './entity-configuration.controller';
import { EntityConfigurationService } from './entity-configuration.service';
import { FederationEntityKeyEntity } from './federation-entity-key.entity';
import { FederationEntityKeys } from './federation-entity-keys.service';

/**
 * The suite as an OpenID Federation entity: its keys (PostgreSQL) and `GET
 * /.well-known/openid-federation`. Needs `AuthorizationServerMetadata` (libs/grants): the token
 * service's TokenModule provides it, the federation service imports AuthorizationServerMetadataModule.
 */
@Module({
  imports: [TypeOrmModule.forFeature([FederationEntityKeyEntity])],
  controllers: [EntityConfigurationController],
  providers: [FederationEntityKeys, EntityConfigurationService],
  exports: [FederationEntityKeys, EntityConfigurationService],
})
export class OpenIdFederationEntityModule {}
