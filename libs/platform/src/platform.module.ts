import { type DynamicModule, Global, Module, type Provider } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ConfigModule, type AppConfig } from '@fpa/config';
import { CLOCK, OAuthExceptionFilter, SystemClock } from '@fpa/oauth-core';
import { PersistenceModule } from '@fpa/persistence';
import { StoreModule } from '@fpa/store';
import { AppLogger } from './app-logger';
import { AuditEventEntity } from './audit-event.entity';
import { AuditService } from './audit.service';
import { HEALTH_OPTIONS, HealthController, type HealthOptions } from './health.controller';
import { Lifecycle } from './lifecycle.service';
import { createRootLogger } from './logging';
import { MetricsController } from './metrics.controller';
import { RequestBodyModule } from './request-body.module';
import { MetricsRegistry } from './metrics.service';
import { StoreGenerationReporter } from './store-generation.reporter';
import { StoreMetrics } from './store-metrics';

export interface PlatformOptions {
  /** PostgreSQL (TypeORM + migrations + audit). Default true. */
  readonly database?: boolean;
  /** Redis / in-process ephemeral store. Default true. */
  readonly store?: boolean;
}

/**
 * What every app shares: typed config, JSON logs with request ids, metrics, health, the one
 * exception filter, the clock, and (optionally) PostgreSQL, the ephemeral store and the audit trail.
 */
@Global()
@Module({})
export class PlatformModule {
  static forRoot(config: AppConfig, options: PlatformOptions = {}): DynamicModule {
    const database = options.database ?? true;
    const store = options.store ?? true;
    const health: HealthOptions = { database, store };
    const providers: Provider[] = [
      { provide: AppLogger, useFactory: () => new AppLogger(createRootLogger(config)) },
      MetricsRegistry,
      Lifecycle,
      { provide: CLOCK, useClass: SystemClock },
      { provide: APP_FILTER, useClass: OAuthExceptionFilter },
      { provide: HEALTH_OPTIONS, useValue: health },
      StoreMetrics,
      StoreGenerationReporter,
    ];
    const exports: (Provider | string | symbol)[] = [AppLogger, MetricsRegistry, Lifecycle, CLOCK];
    const imports = [ConfigModule.forRoot(config), TerminusModule, RequestBodyModule];
    if (database) {
      imports.push(PersistenceModule.forRoot(config), TypeOrmModule.forFeature([AuditEventEntity]));
      providers.push(AuditService);
      exports.push(AuditService);
    }
    if (store) imports.push(StoreModule.forRoot());
    return {
      module: PlatformModule,
      imports,
      controllers: [HealthController, MetricsController],
      providers,
      exports,
    };
  }
}
