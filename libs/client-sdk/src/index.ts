export * from './errors';
export * from './authorization-challenge';
export * from './first-party-client';
