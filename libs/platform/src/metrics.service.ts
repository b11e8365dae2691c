import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every Prometheus metric of a process, in one registry (no global state, so tests can build
 * several apps in one process). Names follow Prometheus conventions; labels are bounded sets.
 */
@Injectable()
export class Metrics {
  readonly registry = new Registry();

  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by route template, method and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly tokensIssued = new Counter({
    name: 'fpa_tokens_issued_total',
    help: 'Access tokens issued, by grant type and token type.',
    labelNames: ['grant', 'token_type'] as const,
    registers: [this.registry],
  });

  readonly tokenErrors = new Counter({
    name: 'fpa_token_errors_total',
    help: 'Token endpoint refusals by grant type and OAuth error code.',
    labelNames: ['grant', 'error'] as const,
    registers: [this.registry],
  });

  readonly dpopFailures = new Counter({
    name: 'fpa_dpop_failures_total',
    help: 'Refused DPoP proofs by reason (nonce challenges included as reason="nonce").',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly clientAuthFailures = new Counter({
    name: 'fpa_client_auth_failures_total',
    help: 'Failed client authentications (device assertions included) by method and reason.',
    labelNames: ['method', 'reason'] as const,
    registers: [this.registry],
  });

  readonly registrations = new Counter({
    name: 'fpa_device_registrations_total',
    help: 'Device registrations by outcome (success or the refusal reason).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly refreshReuse = new Counter({
    name: 'fpa_refresh_token_reuse_total',
    help: 'Reuse of a rotated refresh token (the whole family is revoked).',
    registers: [this.registry],
  });

  readonly revocations = new Counter({
    name: 'fpa_revocations_total',
    help: 'Tokens revoked, by token kind.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly challengeSteps = new Counter({
    name: 'fpa_challenge_steps_total',
    help: 'Authorization challenge steps by method and outcome (code_sent, prompted, verified, invalid_code, expired, burned, throttled, undeliverable).',
    labelNames: ['method', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly challengeOutcomes = new Counter({
    name: 'fpa_challenge_outcomes_total',
    help: 'Authorization challenge endpoint answers by outcome (authorization_code, insufficient_authorization, redirect_to_web, error).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly auditDropped = new Counter({
    name: 'fpa_audit_events_dropped_total',
    help: 'Audit events that could not be written to PostgreSQL.',
    registers: [this.registry],
  });

  readonly ready = new Gauge({
    name: 'fpa_ready',
    help: '1 when the process reports ready, 0 while starting or draining.',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
