export * from './authorization-details';
export * from './authorization-request';
export * from './native-callback-trust';
export * from './pushed-requests';
export * from './authz-request.module';
export * from './examples/authorization-details';
export * from './openapi/authorization-parameters';
