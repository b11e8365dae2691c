export * from './dpop.service';
export * from './dpop.module';
export * from './dpop.metrics';
