import { Controller, Get, Inject, Optional, Res } from '@nestjs/common';
import { HealthCheckService, TypeOrmHealthIndicator, type HealthIndicatorFunction, HealthIndicatorService } from '@nestjs/terminus';
import type { Response } from 'express';
import { EPHEMERAL_STORE, type EphemeralStore } from '@fpa/store';
import { Lifecycle } from './lifecycle.service';
import { MetricsRegistry } from './metrics.service';

export const HEALTH_OPTIONS = Symbol('HEALTH_OPTIONS');
export interface HealthOptions {
  readonly database: boolean;
  readonly store: boolean;
}

/**
 * `/health/live`: the process is up. `/health/ready`: PostgreSQL and Redis answer and the process
 * is not draining (CONTRACT §1, §8). Readiness flips to 503 the moment SIGTERM arrives.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly lifecycle: Lifecycle,
    private readonly metrics: MetricsRegistry,
    @Inject(HEALTH_OPTIONS) private readonly options: HealthOptions,
    @Optional() private readonly db?: TypeOrmHealthIndicator,
    @Optional() @Inject(EPHEMERAL_STORE) private readonly store?: EphemeralStore,
  ) {}

  @Get('live')
  live(@Res() res: Response): void {
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).json({ status: 'ok' });
  }

  @Get('ready')
  async ready(@Res() res: Response): Promise<void> {
    res.setHeader('Cache-Control', 'no-store');
    if (this.lifecycle.isDraining) {
      this.metrics.ready.set(0);
      res.status(503).json({ status: 'draining' });
      return;
    }
    const checks: HealthIndicatorFunction[] = [];
    if (this.options.database && this.db) checks.push(() => this.db!.pingCheck('database', { timeout: 1500 }));
    if (this.options.store && this.store) {
      const store = this.store;
      checks.push(async () => {
        const check = this.indicator.check(store.kind === 'redis' ? 'redis' : 'store');
        try {
          await store.ping();
          return check.up();
        } catch {
          return check.down({ message: 'unreachable' });
        }
      });
    }
    try {
      const result = await this.health.check(checks);
      this.metrics.ready.set(1);
      res.status(200).json(result);
    } catch (e) {
      this.metrics.ready.set(0);
      const body = (e as { response?: unknown }).response ?? { status: 'error' };
      res.status(503).json(body);
    }
  }
}
