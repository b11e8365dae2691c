export * from './mdoc-index';
export * from './sd-jwt-issuer';
export * from './sd-jwt-wallet';
export * from './status-list';
export * from './test-http-server';
