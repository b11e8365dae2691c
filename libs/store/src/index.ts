export * from './ephemeral-store';
export * from './generation';
export * from './redis.store';
export * from './memory.store';
export * from './store.module';
export * from './store-keys';
export * from './rate-limit';
export * from './ip-subject';
