import { Injectable } from '@nestjs/common';
import { MetricsRegistry } from '@fpa/platform';

/** Federations by downstream issuer and outcome (issue 10 item 5). */
@Injectable()
export class FederationMetrics {
  readonly federations;
  readonly prompts;
  readonly downstreamSeconds;

  constructor(registry: MetricsRegistry) {
    this.federations = registry.counter({
      name: 'fpa_federation_total',
      help: 'Federations to downstream servers by downstream issuer and outcome: started, completed, unsupported (no native endpoint), or failed:<reason>.',
      labelNames: ['downstream', 'outcome'] as const,
    });
    this.prompts = registry.counter({
      name: 'fpa_federation_routing_total',
      help: 'Routing decisions of the native endpoint by client routing policy: insufficient_information asked, local, federate, refused.',
      labelNames: ['decision'] as const,
    });
    this.downstreamSeconds = registry.histogram({
      name: 'fpa_federation_downstream_seconds',
      help: 'Time of calls to downstream servers, by step (metadata+par, token).',
      labelNames: ['downstream', 'step'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
  }
}
