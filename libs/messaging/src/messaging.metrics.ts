import { Injectable } from '@nestjs/common';
import { MetricsRegistry } from '@fpa/platform';

/** Messages handed to the email and SMS transports, and refusals by the send budgets. */
@Injectable()
export class MessagingMetrics {
  readonly messagesSent;
  readonly budgetExhausted;

  constructor(registry: MetricsRegistry) {
    this.messagesSent = registry.counter({
      name: 'fpa_messages_sent_total',
      help: 'Messages handed to a transport, by channel (email, sms) and outcome (sent, failed).',
      labelNames: ['channel', 'outcome'] as const,
    });
    this.budgetExhausted = registry.counter({
      name: 'fpa_send_budget_exhausted_total',
      help: 'Sends refused because a send budget was spent, by scope (client, global) and channel.',
      labelNames: ['scope', 'channel'] as const,
    });
  }
}
