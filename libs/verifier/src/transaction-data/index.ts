export * from './transaction-data';
export * from './authorization-details-mapping';
