import { DeliveryError, type SmsMessage, type SmsSender } from './messaging';

/**
 * An HTTP SMS-provider adapter: POSTs a JSON body built from a template (`{{to}}`, `{{message}}`,
 * JSON-escaped) with a configured Authorization header. Most providers (Twilio-like gateways,
 * internal notification services) fit this shape; anything else is one more adapter.
 */
export class HttpSmsSender implements SmsSender {
  readonly kind = 'http';

  constructor(
    private readonly url: string,
    private readonly authorization: string | undefined,
    private readonly bodyTemplate: string,
    private readonly timeoutMs = 5000,
  ) {}

  render(message: SmsMessage): string {
    const esc = (v: string): string => JSON.stringify(v).slice(1, -1);
    return this.bodyTemplate.replace(/\{\{to\}\}/g, esc(message.to)).replace(/\{\{message\}\}/g, esc(message.text));
  }

  async send(message: SmsMessage): Promise<void> {
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(this.authorization ? { authorization: this.authorization } : {}) },
        body: this.render(message),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new DeliveryError('sms', `SMS provider unreachable (${(e as Error).name})`);
    }
    await res.arrayBuffer().catch(() => undefined);
    if (!res.ok) throw new DeliveryError('sms', `SMS provider answered ${res.status}`);
  }
}
