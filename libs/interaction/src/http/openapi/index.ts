export * from './challenge-request.dto';
export * from './challenge-response.dto';
export * from './setup-openapi';
export * from './openapi.module';
