import { type DynamicModule, Logger, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { AppConfig } from '@fpa/config';
import { dataSourceOptions, ensureSchema } from './data-source';

/**
 * The TypeORM root: `synchronize` is off, the schema comes from migrations only, and entities are
 * registered by each feature with `TypeOrmModule.forFeature` + `autoLoadEntities` (STYLE.md).
 * The DataSource is handed out only once the schema is current, so no provider ever sees an old one.
 */
@Module({})
export class PersistenceModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: PersistenceModule,
      imports: [
        TypeOrmModule.forRootAsync({
          // Fail start-up quickly (the orchestrator restarts us) instead of TypeORM's 9 × 3 s retries.
          useFactory: () => ({ ...dataSourceOptions(config), autoLoadEntities: true, retryAttempts: 2, retryDelay: 1000 }),
          dataSourceFactory: async (options) => {
            const ds = await new DataSource(options!).initialize();
            try {
              const ran = await ensureSchema(ds, config);
              if (ran.length > 0) new Logger('Persistence').log(`applied migrations: ${ran.join(', ')}`);
            } catch (e) {
              await ds.destroy().catch(() => undefined);
              throw e;
            }
            return ds;
          },
        }),
      ],
    };
  }
}
