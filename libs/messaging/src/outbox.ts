import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { EmailMessage, EmailSender, SmsMessage, SmsSender } from './messaging';

/**
 * The embedded default's transport: messages are appended as JSON lines to DATA_DIR/outbox.jsonl
 * (mode 0600) instead of being sent, so `npm run demo` can read the code. Production refuses it
 * (configuration requires SMTP_URL / SMS_PROVIDER_URL there).
 */
export class Outbox implements EmailSender, SmsSender {
  readonly kind = 'outbox';

  constructor(readonly path: string) {}

  async send(message: EmailMessage | SmsMessage): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const channel = 'subject' in message ? 'email' : 'sms';
    await appendFile(this.path, `${JSON.stringify({ at: new Date().toISOString(), channel, ...message })}\n`, { mode: 0o600 });
  }
}
