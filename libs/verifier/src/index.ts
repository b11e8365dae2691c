export * from './mdoc';
