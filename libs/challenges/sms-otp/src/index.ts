export * from './sms-otp.challenge';
export * from './sms-otp.module';
