import { Injectable } from '@nestjs/common';
import { MetricsRegistry } from '@fpa/platform';

/** The PAR endpoint's metrics (registered by the feature, not by the platform). */
@Injectable()
export class ParMetrics {
  readonly requests;

  constructor(registry: MetricsRegistry) {
    this.requests = registry.counter({
      name: 'fpa_par_requests_total',
      help: 'Pushed authorization requests by outcome: pushed, or the OAuth error code of the refusal.',
      labelNames: ['outcome'] as const,
    });
  }
}
