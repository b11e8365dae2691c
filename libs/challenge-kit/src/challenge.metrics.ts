import { Injectable } from '@nestjs/common';
import { MetricsRegistry } from '@fpa/platform';

@Injectable()
export class ChallengeMetrics {
  readonly challengeSteps;
  readonly challengeOutcomes;

  constructor(registry: MetricsRegistry) {
    this.challengeSteps = registry.counter({
      name: 'fpa_challenge_steps_total',
      help: 'Authorization challenge steps by method and outcome (code_sent, prompted, verified, invalid_code, expired, burned, throttled, undeliverable).',
      labelNames: ['method', 'outcome'] as const,
    });
    this.challengeOutcomes = registry.counter({
      name: 'fpa_challenge_outcomes_total',
      help: 'Authorization challenge endpoint answers by outcome (authorization_code, insufficient_authorization, redirect_to_web, error).',
      labelNames: ['outcome'] as const,
    });
  }
}
