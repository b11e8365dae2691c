import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, QueryRunner } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { CLOCK, type Clock } from '@fpa/oauth-core';
import { JanitorRuns } from './janitor-runs';
import { JANITOR_TABLES, SESSION_CHILDREN, SessionSweep, SWEEPS, type Cutoffs, type JanitorTable } from './sweeps';

export interface JanitorOptions {
  /** The instant expiry is judged against (default: the clock). Tests drive time with it. */
  readonly asOf?: Date;
  /** Rows per DELETE (default JANITOR_BATCH_SIZE). */
  readonly batchSize?: number;
  /** Pause between batches (default JANITOR_PAUSE_MS). */
  readonly pauseMs?: number;
}

export interface JanitorSummary {
  readonly runId: string | null;
  readonly outcome: 'success' | 'failure';
  readonly asOf: Date;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly durationMs: number;
  readonly batchSize: number;
  readonly batches: number;
  readonly deleted: Record<JanitorTable, number>;
  /** Dead sessions left for the next run because another transaction held one of their rows. */
  readonly sessionsSkipped: number;
  /** Set on failure: the error's class and message (SQL errors name no values). */
  readonly error?: string;
}

/** A run that never waits long for a lock: anything held that long is another run's business. */
const LOCK_TIMEOUT = '5s';
const STATEMENT_TIMEOUT = '120s';

/**
 * Deletes what has expired (issue 8 item 5), in bounded batches: every statement deletes at most
 * `batchSize` rows in its own short transaction and skips rows another transaction holds. What is
 * dead, and why it is safe to delete, is in `sweeps.ts`. Every run is recorded in `janitor_runs`, which
 * the apps read for their metrics (the CronJob itself cannot be scraped).
 */
@Injectable()
export class JanitorService {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly runs: JanitorRuns,
  ) {}

  /** The cutoffs a run at `asOf` compares against (see `Cutoffs`). */
  cutoffs(asOf: Date, runId: string): Cutoffs {
    const at = (seconds: number): Date => new Date(asOf.getTime() - seconds * 1000);
    const { accessTokenTtl } = this.config.tokens;
    const skew = this.config.clockSkewSeconds;
    return {
      now: asOf,
      tokenCutoff: at(skew),
      sessionCutoff: at(accessTokenTtl + skew + 60),
      attemptCutoff: at(this.config.challenge.lockout.resetSeconds),
      auditCutoff: at(this.config.janitor.auditRetentionDays * 86_400),
      runId,
    };
  }

  async run(options: JanitorOptions = {}): Promise<JanitorSummary> {
    const startedAt = new Date(this.clock.nowMs());
    const asOf = options.asOf ?? startedAt;
    const batchSize = options.batchSize ?? this.config.janitor.batchSize;
    const pauseMs = options.pauseMs ?? this.config.janitor.pauseMs;
    const deleted = Object.fromEntries(JANITOR_TABLES.map((t) => [t, 0])) as Record<JanitorTable, number>;
    const progress = { batches: 0, sessionsSkipped: 0 };
    let runId: string | null = null;
    let error: string | undefined;
    const runner = this.ds.createQueryRunner();
    try {
      const id = await this.runs.start(startedAt);
      runId = id;
      await runner.connect();
      await runner.query(`SET lock_timeout = '${LOCK_TIMEOUT}'`);
      await runner.query(`SET statement_timeout = '${STATEMENT_TIMEOUT}'`);
      const batch = new Batcher(runner, batchSize, pauseMs, deleted, progress);
      const cutoffs = this.cutoffs(asOf, id);
      await this.sweepSessions(batch, cutoffs);
      for (const sweep of SWEEPS) await batch.repeat(sweep.table, sweep.sql, (limit) => sweep.params(cutoffs, limit));
    } catch (e) {
      error = describe(e);
    } finally {
      if (!runner.isReleased) {
        await runner.query('RESET ALL').catch(() => undefined);
        await runner.release();
      }
    }
    const finishedAt = new Date(this.clock.nowMs());
    const summary: JanitorSummary = {
      runId,
      outcome: error === undefined ? 'success' : 'failure',
      asOf,
      startedAt,
      finishedAt,
      durationMs: finishedAt.getTime() - startedAt.getTime(),
      batchSize,
      batches: progress.batches,
      deleted,
      sessionsSkipped: progress.sessionsSkipped,
      ...(error === undefined ? {} : { error }),
    };
    if (runId !== null) {
      try {
        await this.runs.finish(runId, summary);
      } catch (e) {
        return { ...summary, outcome: 'failure', error: summary.error ?? `recording the run failed: ${describe(e)}` };
      }
    }
    return summary;
  }

  /** Dead sessions and what hangs off them (see `SessionSweep`). */
  private async sweepSessions(batch: Batcher, c: Cutoffs): Promise<void> {
    const skipped: string[] = [];
    for (;;) {
      const picked = (await batch.query<{ auth_session: string }>(SessionSweep.pick, [c.sessionCutoff, skipped, batch.size])).map((r) => r.auth_session);
      if (picked.length === 0) return;
      for (const child of SESSION_CHILDREN) await batch.repeat(child.table, SessionSweep.children(child.table, child.pk), (limit) => [picked, limit]);
      const gone = new Set((await batch.query<{ auth_session: string }>(SessionSweep.sessions, [picked, c.sessionCutoff])).map((r) => r.auth_session));
      batch.count('device_sessions', gone.size);
      for (const s of picked) if (!gone.has(s)) skipped.push(s);
      batch.progress.sessionsSkipped = skipped.length;
      if (picked.length < batch.size) return;
      await batch.pause();
    }
  }
}

/** Runs one batch statement after another on the run's connection, counting rows and batches. */
class Batcher {
  constructor(
    private readonly runner: QueryRunner,
    readonly size: number,
    private readonly pauseMs: number,
    private readonly deleted: Record<JanitorTable, number>,
    readonly progress: { batches: number; sessionsSkipped: number },
  ) {}

  async query<T>(sql: string, params: unknown[]): Promise<T[]> {
    return (await this.runner.query(sql, params)) as T[];
  }

  count(table: JanitorTable, rows: number): void {
    this.deleted[table] += rows;
    this.progress.batches += 1;
  }

  async pause(): Promise<void> {
    if (this.pauseMs > 0) await sleep(this.pauseMs);
  }

  /** One bounded DELETE after another until a batch deletes fewer rows than the batch size. */
  async repeat(table: JanitorTable, sql: string, params: (limit: number) => unknown[]): Promise<void> {
    for (;;) {
      const [row] = await this.query<{ n: number }>(sql, params(this.size));
      const n = Number(row?.n ?? 0);
      this.count(table, n);
      if (n < this.size) return;
      await this.pause();
    }
  }
}

function describe(e: unknown): string {
  const err = e as { name?: string; code?: string; message?: string };
  const text = `${err.name ?? 'Error'}${err.code ? ` ${err.code}` : ''}: ${err.message ?? String(e)}`;
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}
