import { Inject, Injectable, Optional, type OnModuleInit } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import { Gauge } from 'prom-client';
import type { DataSource } from 'typeorm';
import { EPHEMERAL_STORE, type EphemeralStore } from '@fpa/store';
import { MetricsRegistry } from './metrics.service';

interface PoolCounts {
  totalCount?: number;
  idleCount?: number;
  waitingCount?: number;
}

/**
 * Pool and store health as gauges read at scrape time (issue 4: "pool and Redis health"): the
 * PostgreSQL pool's open, idle and waiting connections, and whether the Redis connection is ready.
 * No timers: the values are whatever the clients know when Prometheus asks.
 */
@Injectable()
export class StoreMetrics implements OnModuleInit {
  constructor(
    private readonly metrics: MetricsRegistry,
    @Optional() @Inject(getDataSourceToken()) private readonly ds?: DataSource,
    @Optional() @Inject(EPHEMERAL_STORE) private readonly store?: EphemeralStore,
  ) {}

  onModuleInit(): void {
    const registers = [this.metrics.registry];
    const ds = this.ds;
    if (ds) {
      const pool = (): PoolCounts => ((ds.driver as unknown as { master?: PoolCounts }).master ?? {});
      new Gauge({
        name: 'fpa_db_pool_connections',
        help: 'PostgreSQL pool connections by state (open, idle, waiting = callers queued for a connection).',
        labelNames: ['state'] as const,
        registers,
        collect() {
          const p = pool();
          this.set({ state: 'open' }, p.totalCount ?? 0);
          this.set({ state: 'idle' }, p.idleCount ?? 0);
          this.set({ state: 'waiting' }, p.waitingCount ?? 0);
        },
      });
    }
    const store = this.store;
    if (store) {
      new Gauge({
        name: 'fpa_store_up',
        help: '1 when the ephemeral store (Redis, or the in-process store of the embedded default) is connected.',
        labelNames: ['kind'] as const,
        registers,
        collect() {
          const status = (store as EphemeralStore & { client?: { status?: string } }).client?.status;
          this.set({ kind: store.kind }, store.kind === 'memory' || status === 'ready' ? 1 : 0);
        },
      });
    }
  }
}
