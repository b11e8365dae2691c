export * from './messaging';
export * from './smtp.sender';
export * from './http-sms.sender';
export * from './outbox';
export * from './messaging.module';
