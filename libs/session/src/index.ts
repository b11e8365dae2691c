export * from './device-session.entity';
export * from './device-session.repository';
export * from './refresh-token.entity';
export * from './refresh-token.service';
export * from './token-revocation.entity';
export * from './revocation.service';
export * from './session.module';
export * from './authorization-code.service';
