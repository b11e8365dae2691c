import { Inject } from '@nestjs/common';

export type MessageChannel = 'email' | 'sms';

export interface EmailMessage {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
}

export interface SmsMessage {
  readonly to: string;
  readonly text: string;
}

/** Ports: challenge modules compose messages; the orchestrator sends them through these. */
export interface EmailSender {
  readonly kind: string;
  send(message: EmailMessage): Promise<void>;
}

export interface SmsSender {
  readonly kind: string;
  send(message: SmsMessage): Promise<void>;
}

export const EMAIL_SENDER = Symbol('EMAIL_SENDER');
export const SMS_SENDER = Symbol('SMS_SENDER');
export const InjectEmailSender = (): ParameterDecorator => Inject(EMAIL_SENDER);
export const InjectSmsSender = (): ParameterDecorator => Inject(SMS_SENDER);

/** A transport failed: the code was not delivered (the orchestrator answers 503). */
export class DeliveryError extends Error {
  constructor(
    readonly channel: MessageChannel,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DeliveryError';
  }
}
