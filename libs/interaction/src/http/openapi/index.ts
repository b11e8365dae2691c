export * from './challenge-request.dto';
export * from './challenge-response.dto';
export * from './challenge.openapi';
export * from './openapi.module';
export * from './routing-response.dto';
