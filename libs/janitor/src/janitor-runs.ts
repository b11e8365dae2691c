import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { sqlRunner, type SqlRunner } from '@fpa/persistence';
import type { JanitorSummary } from './janitor.service';

/** What the apps' metrics show: the last finished run, and when a run last succeeded. */
export interface JanitorRunsView {
  readonly lastSuccessAt: Date | null;
  readonly last: {
    readonly outcome: 'success' | 'failure';
    readonly finishedAt: Date;
    readonly durationSeconds: number;
    readonly deleted: Readonly<Record<string, number>>;
  } | null;
}

interface LastRow {
  last_success_at: Date | null;
  outcome: 'success' | 'failure' | null;
  started_at: Date | null;
  finished_at: Date | null;
  deleted: Record<string, number> | null;
}

/**
 * `janitor_runs`: a row when a run starts (`running`), completed when it ends. A run killed half-way
 * (its Job's deadline, a node drain) stays `running` and is never the "last finished" run, so the
 * metric of the last success ages and the alert fires.
 */
@Injectable()
export class JanitorRuns {
  private readonly sql: SqlRunner;

  constructor(@InjectDataSource() ds: DataSource) {
    this.sql = sqlRunner(ds);
  }

  async start(at: Date): Promise<string> {
    const [row] = await this.sql<{ id: string }>(`INSERT INTO janitor_runs (started_at, outcome) VALUES ($1, 'running') RETURNING id`, [at]);
    return String(row.id);
  }

  async finish(id: string, s: JanitorSummary): Promise<void> {
    await this.sql(`UPDATE janitor_runs SET finished_at = $2, outcome = $3, deleted = $4, batches = $5, error = $6 WHERE id = $1`, [
      id,
      s.finishedAt,
      s.outcome,
      JSON.stringify(s.deleted),
      s.batches,
      s.error ?? null,
    ]);
  }

  async view(): Promise<JanitorRunsView> {
    const rows = await this.sql<LastRow>(
      `SELECT (SELECT max(finished_at) FROM janitor_runs WHERE outcome = 'success') AS last_success_at,
              l.outcome, l.started_at, l.finished_at, l.deleted
       FROM (SELECT 1) one
       LEFT JOIN (SELECT outcome, started_at, finished_at, deleted FROM janitor_runs WHERE finished_at IS NOT NULL ORDER BY finished_at DESC, id DESC LIMIT 1) l ON true`,
      [],
    );
    const r = rows[0];
    const at = (v: Date | string | null | undefined): Date | null => (v === null || v === undefined ? null : new Date(v));
    const finishedAt = at(r?.finished_at);
    const startedAt = at(r?.started_at);
    return {
      lastSuccessAt: at(r?.last_success_at),
      last:
        r?.outcome && finishedAt && startedAt
          ? { outcome: r.outcome, finishedAt, durationSeconds: (finishedAt.getTime() - startedAt.getTime()) / 1000, deleted: r.deleted ?? {} }
          : null,
    };
  }
}
