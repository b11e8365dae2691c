export * from './resource-server.options';
export * from './dpop-auth.guard';
export * from './decorators';
export * from './resource-server.module';
export * from './user-authentication';
