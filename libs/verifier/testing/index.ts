export * from './mdoc-index';
