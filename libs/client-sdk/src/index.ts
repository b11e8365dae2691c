export * from './errors';
export * from './authorization-challenge';
export * from './first-party-client';
export * from './native-walk';
