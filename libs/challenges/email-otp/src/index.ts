export * from './email-otp.challenge';
export * from './email-otp.module';
