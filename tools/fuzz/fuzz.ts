import { spawnSync } from 'node:child_process';
import { ROOT } from '@fpa/testing';
import { parseFuzzArgs, FuzzArgsError } from './args';

/**
 * `npm run fuzz -- <count> [--seed <n>] [--first]`: the property-based fuzz suite of `npm test`
 * (test/e2e/fuzz.e2e-spec.ts) for `count` requests, on a standalone app in production mode that it
 * starts on PostgreSQL and Redis (DATABASE_URL, REDIS_URL as for the tests; a fresh database and
 * key prefix, dropped afterwards). It reports every distinct failure with one example request
 * (`--first`: stop at the first and shrink it, as `npm test` does), the seed, and a table of what
 * each endpoint answered.
 */
function main(): number {
  let args;
  try {
    args = parseFuzzArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof FuzzArgsError)) throw e;
    console.error(`npm run fuzz -- <count> [--seed <n>] [--first]\n${e.message}`);
    return 2;
  }
  const env: NodeJS.ProcessEnv = { ...process.env, FUZZ_REQUESTS: String(args.count), FUZZ_COLLECT: args.collect ? '1' : '0' };
  if (args.seed !== undefined) env.FUZZ_SEED = String(args.seed);
  const jest = require.resolve('jest/bin/jest', { paths: [ROOT] });
  const run = spawnSync(process.execPath, [jest, '--selectProjects', 'e2e', '--runTestsByPath', 'test/e2e/fuzz.e2e-spec.ts', '--verbose'], { cwd: ROOT, env, stdio: 'inherit' });
  return run.status ?? 1;
}

process.exitCode = main();
