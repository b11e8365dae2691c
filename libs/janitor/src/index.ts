export * from './janitor.module';
export * from './janitor.service';
export * from './janitor-runs';
export * from './janitor.metrics';
export * from './sweeps';
