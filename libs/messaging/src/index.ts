export * from './messaging';
export * from './smtp.sender';
export * from './http-sms.sender';
export * from './outbox';
export * from './messaging.metrics';
export * from './metered-sender';
export * from './send-budget';
export * from './messaging.module';
