import type { EmailMessage, MessageChannel, SmsMessage } from './messaging';
import type { MessagingMetrics } from './messaging.metrics';

/** A transport that counts what it was handed (`fpa_messages_sent_total`); the one place every send passes. */
export class MeteredSender<M extends EmailMessage | SmsMessage> {
  constructor(
    readonly inner: { readonly kind: string; send(message: M): Promise<void> },
    private readonly channel: MessageChannel,
    private readonly metrics: MessagingMetrics,
  ) {}

  get kind(): string {
    return this.inner.kind;
  }

  async send(message: M): Promise<void> {
    try {
      await this.inner.send(message);
    } catch (e) {
      this.metrics.messagesSent.inc({ channel: this.channel, outcome: 'failed' });
      throw e;
    }
    this.metrics.messagesSent.inc({ channel: this.channel, outcome: 'sent' });
  }
}
