import 'reflect-metadata';
import { type DynamicModule, Module } from '@nestjs/common';
import type { AppConfig } from '@fpa/config';
import { PlatformModule, runApp } from '@fpa/platform';
import { SampleApiModule } from '@fpa/sample-api';

/** A resource server outside the suite: JWKS over HTTP, Redis for proof replay and revocation flags. */
@Module({})
class SampleApiAppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return { module: SampleApiAppModule, imports: [PlatformModule.forRoot(config, { database: false }), SampleApiModule.forRoot({ keys: 'remote' })] };
  }
}

void runApp('sample-api', (config) => SampleApiAppModule.forRoot(config));
