import { Inject, Injectable, Logger, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { EPHEMERAL_STORE, type EphemeralStore, type GenerationChange } from '@fpa/store';
import { MetricsRegistry } from './metrics.service';

/**
 * Makes store generations visible in every app (issue 8): `fpa_store_generation_changes_total` counts
 * the generations this process started, by reason, so the sum over all processes is the number of
 * generations; one `warn` line per generation, from the process that started it after a loss;
 * `fpa_store_generation` is the epoch this process works in. The PostgreSQL record and the audit
 * event come from the authorization server's keeper (libs/session), once per generation.
 */
@Injectable()
export class StoreGenerationReporter implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('StoreGeneration');
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly metrics: MetricsRegistry,
    @Optional() @Inject(EPHEMERAL_STORE) private readonly store?: EphemeralStore,
  ) {}

  onModuleInit(): void {
    const store = this.store;
    if (!store) return;
    const changes = this.metrics.counter({
      name: 'fpa_store_generation_changes_total',
      help: 'Store generations this process started, by reason: genesis (first start), missing (the store lost its data), regressed (the store went back to older data).',
      labelNames: ['reason'] as const,
    });
    this.metrics.gauge({
      name: 'fpa_store_generation',
      help: 'The store generation (epoch) this process works in; 0 before its first store operation.',
      collect() {
        this.set(store.generation.current?.epoch ?? 0);
      },
    });
    this.unsubscribe = store.generation.onChange((change) => {
      if (change.establishedHere) changes.inc({ reason: change.generation.reason });
      this.report(change);
    });
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }

  private report({ generation: g, previous, establishedHere }: GenerationChange): void {
    const started = g.startedAtMs === 0 ? 'the first one' : new Date(g.startedAtMs).toISOString();
    if (establishedHere && g.reason !== 'genesis') {
      this.logger.warn(
        `the ephemeral store ${g.reason === 'missing' ? 'lost its data (generation marker missing)' : 'went back to older data (generation marker behind)'}: ` +
          `started generation ${g.epoch} at ${started}; proofs and assertions that could have been used before are refused until they expire, ` +
          `and revocation checks fail closed until the flags are restored from PostgreSQL`,
      );
    } else {
      this.logger.log(`store generation ${g.epoch} (${g.reason}, started ${started})${previous ? `, after ${previous.epoch}` : ''}${establishedHere ? '' : ' learned from the store'}`);
    }
  }
}
