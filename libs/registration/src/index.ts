export * from './device-registration.service';
export * from './registration.controller';
export * from './registration.module';
export * from './registration.metrics';
export * from './registration.openapi';
