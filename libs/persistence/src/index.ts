export * from './data-source';
export * from './persistence.module';
export * from './pglite-pool';
export { MIGRATIONS } from './migrations';
export * from './data-dir-lock';
export * from './storable';
export * from './pglite-instance';
