export * from './passkey.challenge';
export * from './passkey.module';
