export * from './signing-key.entity';
export * from './key-manager.service';
export * from './keys.module';
