import { Injectable } from '@nestjs/common';
import { MetricsRegistry } from '@fpa/platform';

/** DPoP's own metrics (registered by the feature, not by the platform). */
@Injectable()
export class DpopMetrics {
  readonly failures;

  constructor(registry: MetricsRegistry) {
    this.failures = registry.counter({
      name: 'fpa_dpop_failures_total',
      help: 'Refused DPoP proofs by reason (nonce challenges included as reason="nonce").',
      labelNames: ['reason'] as const,
    });
  }
}
