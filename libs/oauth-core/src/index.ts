export * from './oauth-error';
export * from './exception.filter';
export * from './form';
export * from './input-text';
export * from './clock';
export * from './http';
export * from './metadata';
