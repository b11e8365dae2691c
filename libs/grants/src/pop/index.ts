export * from './pop-resource-servers';
export * from './pop-key.store';
export * from './pop-binding';
export * from './pop-binder.service';
