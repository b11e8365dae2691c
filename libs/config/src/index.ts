export * from './env-vars';
export * from './load-config';
export * from './embedded-secrets';
export * from './config.module';
