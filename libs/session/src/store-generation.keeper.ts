import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { CLOCK, type Clock } from '@fpa/oauth-core';
import { sqlRunner, type SqlRunner } from '@fpa/persistence';
import { AuditService } from '@fpa/platform';
import { EPHEMERAL_STORE, StoreKeys, type EphemeralStore, type GenerationReason, type StoreGeneration } from '@fpa/store';
import { RevocationRestorer } from './revocation-restorer.service';

/** How often an idle replica looks at the marker (a loss is also noticed by any claim or flag check). */
const CHECK_INTERVAL_MS = 5_000;
/** One replica refills a generation's flags; another takes over if it has not finished by then. */
const RESTORE_LOCK_SECONDS = 30;

interface GenerationRow {
  epoch: number;
  id: string;
  started_at: Date;
  reason: GenerationReason;
  restored_at: Date | null;
}

/**
 * The authorization server's side of store generations (issue 8; generation.ts in libs/store):
 * - at start-up, before the app listens: learns the latest generation PostgreSQL recorded, then
 *   reads the marker; a missing marker is the deployment's first generation only when PostgreSQL
 *   has none (an upgrade, a new install), otherwise a loss — always so for the embedded default's
 *   in-process store, which starts empty with every process;
 * - records each new generation in `store_generations` and the audit trail, once across replicas;
 * - refills the revocation flags from PostgreSQL (one replica, under a lock) and marks the
 *   generation restored, which ends the fail-closed window of resource servers;
 * - repeats when any store operation reports a new generation, and every few seconds while idle,
 *   so a loss detected by a resource server (no PostgreSQL) is repaired here.
 */
@Injectable()
export class StoreGenerationKeeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('StoreGeneration');
  private readonly sql: SqlRunner;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private recordedEpoch = 0;
  private failing = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(EPHEMERAL_STORE) private readonly store: EphemeralStore,
    @InjectDataSource() ds: DataSource,
    private readonly restorer: RevocationRestorer,
    private readonly audit: AuditService,
  ) {
    this.sql = sqlRunner(ds);
  }

  async onApplicationBootstrap(): Promise<void> {
    // The CLI runs one command and exits; the servers keep the generation.
    if (this.config.app === 'cli') return;
    // Fails the start-up: an app must not serve before it knows what its store may have lost.
    await this.check();
    this.unsubscribe = this.store.generation.onChange(() => this.checkSoon());
    this.timer = setInterval(() => this.checkSoon(), CHECK_INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe?.();
  }

  /** One check at a time; a request during one runs one more afterwards. Failures are logged once until a check succeeds. */
  checkSoon(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.check()
      .then(() => {
        if (this.failing) this.logger.log('store generation check succeeded again');
        this.failing = false;
      })
      .catch((e: unknown) => {
        if (!this.failing) this.logger.warn(`store generation check failed, retrying every ${CHECK_INTERVAL_MS / 1000} s: ${(e as Error).message}`);
        this.failing = true;
      })
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.checkSoon();
        }
      });
  }

  /** Resolves once the current check (if any) has finished (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  async check(): Promise<void> {
    if (this.recordedEpoch === 0) {
      const latest = (await this.sql<GenerationRow>('SELECT epoch, id, started_at, reason, restored_at FROM store_generations ORDER BY epoch DESC LIMIT 1', []))[0];
      if (latest) {
        this.store.generation.seed({
          epoch: latest.epoch,
          id: latest.id,
          startedAtMs: new Date(latest.started_at).getTime(),
          restoredAtMs: latest.restored_at ? new Date(latest.restored_at).getTime() : undefined,
          reason: latest.reason,
        });
        this.recordedEpoch = latest.epoch;
      }
    }
    const generation = await this.store.syncGeneration({ genesis: this.recordedEpoch === 0 });
    if (generation.epoch > this.recordedEpoch) await this.record(generation);
    if (generation.restoredAtMs === undefined) await this.restore(generation);
  }

  private async record(g: StoreGeneration): Promise<void> {
    const inserted = await this.sql<{ epoch: number }>(
      `INSERT INTO store_generations (epoch, id, started_at, reason, restored_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (epoch) DO NOTHING RETURNING epoch`,
      [g.epoch, g.id, new Date(g.startedAtMs), g.reason, g.restoredAtMs === undefined ? null : new Date(g.restoredAtMs)],
    );
    // Whichever replica records it first writes the audit event: once per generation.
    if (inserted.length > 0) {
      this.audit.record({
        type: 'store.generation_started',
        details: { epoch: g.epoch, id: g.id, reason: g.reason, startedAt: g.startedAtMs === 0 ? null : new Date(g.startedAtMs).toISOString(), previousEpoch: this.recordedEpoch || null },
      });
    }
    this.recordedEpoch = g.epoch;
  }

  private async restore(g: StoreGeneration): Promise<void> {
    const lock = StoreKeys.generationRestore(g.epoch);
    if (!(await this.store.claimOnce(lock, RESTORE_LOCK_SECONDS))) return;
    const began = Date.now();
    try {
      const restored = await this.restorer.restore(new Date(this.clock.nowMs()));
      const at = this.clock.nowMs();
      if (!(await this.store.markRevocationsRestored(g.epoch, at))) return;
      await this.sql('UPDATE store_generations SET restored_at = $2 WHERE epoch = $1 AND restored_at IS NULL', [g.epoch, new Date(at)]);
      this.audit.record({ type: 'store.revocations_restored', details: { epoch: g.epoch, ...restored, ms: Date.now() - began } });
      this.logger.log(`store generation ${g.epoch}: revocation flags restored from PostgreSQL (${restored.accessTokens} access tokens, ${restored.sessions} sessions)`);
    } catch (e) {
      // Let the next check (this replica's or another's) start over at once.
      await this.store.delete(lock).catch(() => undefined);
      throw e;
    }
  }
}
