export * from './dpop.service';
export * from './dpop.module';
