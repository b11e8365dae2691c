export * from './fragment';
export * from './merge';
export * from './common';
export * from './suite-document';
export * from './openapi.module';
