export * from './sample-api.module';
export * from './demo-api.controller';
