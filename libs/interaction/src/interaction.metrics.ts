import { Injectable } from '@nestjs/common';
import { MetricsRegistry } from '@fpa/platform';

/** The native endpoint's metrics (registered by the feature, STYLE.md). */
@Injectable()
export class InteractionMetrics {
  readonly steps;
  readonly outcomes;
  readonly lockouts;
  readonly enrolments;
  readonly handoffs;

  constructor(registry: MetricsRegistry) {
    this.steps = registry.counter({
      name: 'fpa_challenge_steps_total',
      help: 'Authorization challenge steps by method and outcome (code_sent, prompted, pending, verified, enrolled, invalid_code, expired, burned, locked, throttled, undeliverable).',
      labelNames: ['method', 'outcome'] as const,
    });
    this.outcomes = registry.counter({
      name: 'fpa_challenge_outcomes_total',
      help: 'Authorization challenge endpoint answers, once each: an EndpointOutcome kind (code, need_more, pending, redirect_to_web, redirect_to_app) or the OAuth error code.',
      labelNames: ['outcome'] as const,
    });
    this.lockouts = registry.counter({
      name: 'fpa_auth_lockouts_total',
      help: 'Answers refused because their secret is locked out after repeated failures (per TOTP user, OTP destination, passkey user), by method.',
      labelNames: ['method'] as const,
    });
    this.enrolments = registry.counter({
      name: 'fpa_credentials_enrolled_total',
      help: 'Credentials enrolled, by method, path (authentication or recovery) and whether they start provisional.',
      labelNames: ['method', 'path', 'provisional'] as const,
    });
    this.handoffs = registry.counter({
      name: 'fpa_app_handoffs_total',
      help: 'redirect_to_app handoffs (FED-8/FED-14) by step: issued (deep link answered), taken (by a listed app), refused (another app, or unknown/used/expired).',
      labelNames: ['step'] as const,
    });
  }
}
