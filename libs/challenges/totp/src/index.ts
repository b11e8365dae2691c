export * from './totp.challenge';
export * from './totp.module';
