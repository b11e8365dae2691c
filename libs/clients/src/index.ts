export * from './client.entity';
export * from './client-definition';
export * from './client-registry.service';
export * from './client-admin.service';
export * from './clients.module';
export * from './demo-client';
export * from './scope-policy';
export * from './redirect-uri';
