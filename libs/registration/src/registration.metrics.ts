import { Injectable } from '@nestjs/common';
import { MetricsRegistry } from '@fpa/platform';

@Injectable()
export class RegistrationMetrics {
  readonly registrations;

  constructor(registry: MetricsRegistry) {
    this.registrations = registry.counter({
      name: 'fpa_device_registrations_total',
      help: 'Device registrations by outcome (success or the refusal reason).',
      labelNames: ['outcome'] as const,
    });
  }
}
