import { Initial1763800000000 } from './1763800000000-initial';

/** Every migration, in order. Explicit imports: entity/migration globs break in monorepo builds (STYLE.md). */
export const MIGRATIONS = [Initial1763800000000];
