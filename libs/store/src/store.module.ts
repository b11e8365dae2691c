import { join } from 'node:path';
import { type DynamicModule, Global, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { EPHEMERAL_STORE, type EphemeralStore } from './ephemeral-store';
import { MemoryStore } from './memory.store';
import { RedisStore } from './redis.store';

export async function createStore(config: AppConfig): Promise<EphemeralStore> {
  if (config.redis.url) {
    const store = new RedisStore(config.redis.url, config.redis.keyPrefix);
    try {
      await store.connect();
    } catch (e) {
      await store.close();
      throw new Error(`Redis at REDIS_URL is not reachable: ${(e as Error).message}`);
    }
    return store;
  }
  if (config.mode !== 'embedded') throw new Error('REDIS_URL is required in production mode');
  // A clean shutdown keeps the store for the next start; a crash is a loss (memory-snapshot.ts).
  return new MemoryStore(Date.now, { snapshotPath: join(config.dataDir, 'ephemeral-store.json') });
}

@Injectable()
class StoreCloser implements OnApplicationShutdown {
  constructor(@Inject(EPHEMERAL_STORE) private readonly store: EphemeralStore) {}
  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}

@Global()
@Module({})
export class StoreModule {
  static forRoot(): DynamicModule {
    return {
      module: StoreModule,
      providers: [{ provide: EPHEMERAL_STORE, inject: [APP_CONFIG], useFactory: createStore }, StoreCloser],
      exports: [EPHEMERAL_STORE],
    };
  }
}
