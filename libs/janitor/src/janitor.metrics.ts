import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { MetricsRegistry } from '@fpa/platform';
import { JanitorRuns, type JanitorRunsView } from './janitor-runs';
import { JANITOR_TABLES } from './sweeps';

/** A scrape never waits on PostgreSQL longer than this; the gauges keep their last values then. */
const READ_TIMEOUT_MS = 2000;
/** The gauges of one scrape share one read. */
const SHARE_MS = 1000;

/**
 * The janitor runs as a CronJob, which Prometheus cannot scrape: every app reports its last run from
 * `janitor_runs` instead, read at scrape time (the `collect` hook, as StoreMetrics does), one query per
 * scrape. Alert on `time() - max(fpa_janitor_last_success_timestamp_seconds) > 2 * 86400`.
 */
@Injectable()
export class JanitorMetrics implements OnModuleInit {
  private readonly logger = new Logger('JanitorMetrics');
  private pending: { at: number; view: Promise<JanitorRunsView | undefined> } | undefined;

  constructor(
    private readonly metrics: MetricsRegistry,
    private readonly runs: JanitorRuns,
  ) {}

  onModuleInit(): void {
    const read = (): Promise<JanitorRunsView | undefined> => this.read();
    this.metrics.gauge({
      name: 'fpa_janitor_last_success_timestamp_seconds',
      help: 'When the janitor (cli janitor) last finished a run successfully, in Unix seconds; 0 before its first success.',
      async collect() {
        const view = await read();
        if (view) this.set(view.lastSuccessAt ? view.lastSuccessAt.getTime() / 1000 : 0);
      },
    });
    this.metrics.gauge({
      name: 'fpa_janitor_last_run_timestamp_seconds',
      help: 'When the janitor’s last finished run ended, labelled with its outcome (success or failure); no series before the first run.',
      labelNames: ['outcome'] as const,
      async collect() {
        const view = await read();
        if (!view) return;
        this.reset();
        if (view.last) this.set({ outcome: view.last.outcome }, view.last.finishedAt.getTime() / 1000);
      },
    });
    this.metrics.gauge({
      name: 'fpa_janitor_last_run_duration_seconds',
      help: 'How long the janitor’s last finished run took.',
      async collect() {
        const view = await read();
        if (view?.last) this.set(view.last.durationSeconds);
      },
    });
    this.metrics.gauge({
      name: 'fpa_janitor_rows_deleted',
      help: 'Rows the janitor’s last finished run deleted, per table.',
      labelNames: ['table'] as const,
      async collect() {
        const view = await read();
        if (!view) return;
        this.reset();
        if (view.last) for (const table of JANITOR_TABLES) this.set({ table }, view.last.deleted[table] ?? 0);
      },
    });
  }

  /** One read per scrape, bounded in time; undefined (and the gauges unchanged) when PostgreSQL does not answer. */
  private read(): Promise<JanitorRunsView | undefined> {
    const now = Date.now();
    if (this.pending && now - this.pending.at < SHARE_MS) return this.pending.view;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), READ_TIMEOUT_MS);
      timer.unref();
    });
    const view = Promise.race([
      this.runs.view().catch((e: unknown) => {
        this.logger.debug(`janitor metrics: cannot read janitor_runs (${(e as Error).message})`);
        return undefined;
      }),
      timeout,
    ]).finally(() => clearTimeout(timer));
    this.pending = { at: now, view };
    return view;
  }
}
