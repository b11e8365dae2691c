import { checkStores, storeUrls, StoresUnavailableError } from '@fpa/testing';

/**
 * The e2e suites need a real PostgreSQL and Redis. When one is missing the run fails here with
 * what to start — it never skips.
 */
export default async function globalSetup(): Promise<void> {
  try {
    await checkStores(storeUrls());
  } catch (e) {
    if (!(e instanceof StoresUnavailableError)) throw e;
    throw new Error(`\n\nThe e2e tests need real PostgreSQL and Redis:\n  - ${e.problems.join('\n  - ')}\n`);
  }
}
