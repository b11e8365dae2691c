import { join } from 'node:path';
import { type DynamicModule, Global, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { HttpSmsSender } from './http-sms.sender';
import { EMAIL_SENDER, SMS_SENDER, type EmailSender } from './messaging';
import { MessagingMetrics } from './messaging.metrics';
import { MeteredSender } from './metered-sender';
import { Outbox } from './outbox';
import { SendBudget } from './send-budget';
import { SmtpEmailSender } from './smtp.sender';

export function outboxPath(config: AppConfig): string {
  return join(config.dataDir, 'outbox.jsonl');
}

@Injectable()
class SenderCloser implements OnApplicationShutdown {
  constructor(@Inject(EMAIL_SENDER) private readonly email: EmailSender) {}
  onApplicationShutdown(): void {
    const transport = this.email instanceof MeteredSender ? this.email.inner : this.email;
    if (transport instanceof SmtpEmailSender) transport.close();
  }
}

/** SMTP / HTTP SMS in production; the outbox only in the embedded default without them. Both counted; the send budgets beside them. */
@Global()
@Module({})
export class MessagingModule {
  static forRoot(): DynamicModule {
    return {
      module: MessagingModule,
      providers: [
        MessagingMetrics,
        SendBudget,
        {
          provide: EMAIL_SENDER,
          inject: [APP_CONFIG, MessagingMetrics],
          useFactory: (c: AppConfig, m: MessagingMetrics) =>
            new MeteredSender(c.messaging.smtpUrl ? new SmtpEmailSender(c.messaging.smtpUrl, c.messaging.emailFrom) : outboxOrFail(c, 'SMTP_URL'), 'email', m),
        },
        {
          provide: SMS_SENDER,
          inject: [APP_CONFIG, MessagingMetrics],
          useFactory: (c: AppConfig, m: MessagingMetrics) =>
            new MeteredSender(c.messaging.smsUrl ? new HttpSmsSender(c.messaging.smsUrl, c.messaging.smsAuthorization, c.messaging.smsBodyTemplate) : outboxOrFail(c, 'SMS_PROVIDER_URL'), 'sms', m),
        },
        SenderCloser,
      ],
      exports: [EMAIL_SENDER, SMS_SENDER, SendBudget, MessagingMetrics],
    };
  }
}

function outboxOrFail(config: AppConfig, variable: string): Outbox {
  if (config.mode !== 'embedded') {
    // Reached only when the method is disabled: sending would be a bug, so fail loudly then.
    return new (class extends Outbox {
      override async send(): Promise<void> {
        throw new Error(`${variable} is not configured`);
      }
    })('');
  }
  return new Outbox(outboxPath(config));
}
