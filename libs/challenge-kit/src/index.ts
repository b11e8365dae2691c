export * from './challenge-method';
export * from './challenge-statuses';
export * from './challenge-kit.module';
export * from './otp.service';
export * from './secret-box.service';
export * from './otp-challenge';
