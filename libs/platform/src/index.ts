export * from './platform.module';
export * from './bootstrap';
export * from './metrics.service';
export * from './lifecycle.service';
export * from './audit.service';
export * from './audit-event.entity';
export * from './logging';
export * from './app-logger';
export { RequestLog } from './request-logging';
