export * from './par.module';
export * from './par.controller';
export * from './par.metrics';
export * from './pushed-authorization.service';
export * from './par.openapi';
