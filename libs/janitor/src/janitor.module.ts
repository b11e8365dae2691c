import { Module } from '@nestjs/common';
import { JanitorMetrics } from './janitor.metrics';
import { JanitorRuns } from './janitor-runs';
import { JanitorService } from './janitor.service';

/**
 * The janitor (`cli janitor`) and its metrics. Every app with PostgreSQL imports it for the metrics
 * (the last run, read at scrape time); the service itself only runs when the CLI calls it.
 */
@Module({
  providers: [JanitorRuns, JanitorService, JanitorMetrics],
  exports: [JanitorRuns, JanitorService],
})
export class JanitorModule {}
