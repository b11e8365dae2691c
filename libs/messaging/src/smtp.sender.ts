import type { Transporter } from 'nodemailer';
import { DeliveryError, type EmailMessage, type EmailSender } from './messaging';

/** Email over SMTP with nodemailer (pooled connections; TLS as the URL says). */
export class SmtpEmailSender implements EmailSender {
  readonly kind = 'smtp';
  private readonly transport: Transporter;

  constructor(
    url: string,
    private readonly from: string,
  ) {
    // Options ride on the URL so nodemailer builds one pooled SMTP transport from it.
    const u = new URL(url);
    for (const [k, v] of Object.entries({ pool: 'true', maxConnections: '5', connectionTimeout: '5000', greetingTimeout: '5000', socketTimeout: '10000' })) {
      if (!u.searchParams.has(k)) u.searchParams.set(k, v);
    }
    // nodemailer is loaded when an SMTP sender is made: the embedded default writes an outbox and
    // never pays for it at start-up (issue 13 goal 4).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createTransport } = require('nodemailer') as typeof import('nodemailer');
    this.transport = createTransport(u.toString());
  }

  async send(message: EmailMessage): Promise<void> {
    try {
      await this.transport.sendMail({ from: this.from, to: message.to, subject: message.subject, text: message.text });
    } catch (e) {
      // The error may echo the message; keep only its code.
      throw new DeliveryError('email', `SMTP delivery failed (${(e as { code?: string }).code ?? 'error'})`);
    }
  }

  close(): void {
    this.transport.close();
  }
}
