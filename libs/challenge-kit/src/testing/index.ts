export * from './challenge-method.contract';
