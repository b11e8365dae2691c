export * from './web-login.module';
export * from './web-login.service';
export * from './browser-binding.service';
export * from './html/pages';
export * from './redirect';
export * from './web-login.openapi';
export * from './web-login.metrics';
