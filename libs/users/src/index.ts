export * from './user.entity';
export * from './identifiers';
export * from './users.service';
export * from './users.module';
export * from './attempt-limiter.service';
