import { type DynamicModule, Module } from '@nestjs/common';
import type { AppConfig } from '@fpa/config';
import { JanitorModule } from '@fpa/janitor';
import { PlatformModule } from '@fpa/platform';

/**
 * The federation service (CONTRACT §1). Until its issue lands it serves health and metrics only, so it
 * can already be deployed, probed and scraped like the others.
 */
@Module({})
export class FederationAppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return { module: FederationAppModule, imports: [PlatformModule.forRoot(config), JanitorModule] };
  }
}
