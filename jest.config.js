// Two projects: fast unit specs beside the code, and e2e/integration suites that
// talk to real PostgreSQL and Redis (test/). Both compile with swc; jose is ESM-only,
// so it is transformed too, as are otplib's ESM-only dependencies (@scure/base, …), @owf/mdoc, dcql and valibot.
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.(t|m?j)s$': ['@swc/jest'] },
  transformIgnorePatterns: ['/node_modules/(?!(jose|@scure|@noble|@otplib|otplib|@hexagon|oauth4webapi|openid-client|@owf|dcql|valibot)/)'],
  moduleNameMapper: {
    '^@fpa/challenge-kit/testing$': '<rootDir>/libs/challenge-kit/src/testing',
    '^@fpa/testing/app$': '<rootDir>/libs/testing/src/app',
    '^@fpa/grants/testing$': '<rootDir>/libs/grants/src/testing/fakes',
    '^@fpa/openid-federation/testing$': '<rootDir>/libs/openid-federation/src/testing',
    '^@fpa/verifier/testing$': '<rootDir>/libs/verifier/testing',
    '^@fpa/(.*)$': '<rootDir>/libs/$1/src',
  },
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
};
module.exports = {
  // Two cores: the e2e files are mostly waiting on PostgreSQL, Redis and child processes.
  maxWorkers: 2,
  // A worker that was told to end and has exited is only noticed when the main process polls for I/O;
  // on a loaded 2-core machine the main process can be busy past jest's 500 ms force-exit timer, which
  // then fires first and prints "A worker process has failed to exit gracefully" for a worker that had
  // already exited with code 0 (seen with a preload logging each worker's END message and exit: ~1 ms
  // apart, warning printed anyway). Five seconds removes the false alarm; a worker really held open by
  // a leaked handle is still force-exited and still reported.
  workerGracefulExitTimeout: 5000,
  // Applies to every project (a per-project testTimeout is ignored by jest); e2e hooks start apps.
  testTimeout: 60000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,tools}/**/*.spec.ts'] },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
    },
  ],
};
