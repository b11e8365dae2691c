export * from './first-party-client';
