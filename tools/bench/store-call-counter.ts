/**
 * Counts the store round trips of an app process, by statement and command, for the benchmark's
 * "where the time goes" sections (issue 13). Preload it into the app processes:
 *
 *   BENCH_ONLY=registration BENCH_APP_NODE_ARGS="--require ./dist/tools/bench/store-call-counter.js" npm run bench
 *
 * Every half second it writes `{ at, counts }` to `<tmpdir>/fpa-store-calls-<pid>.json`: `pg <first 60
 * characters of the SQL>` per `Client.query` (pool queries included) and `redis <command> <key
 * family>` per ioredis command (the key's first two segments, the bench prefix left out). Numbers
 * only: no parameter, value or whole key is recorded. Not for production processes.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';

const counts: Record<string, number> = {};
const count = (key: string): void => {
  counts[key] = (counts[key] ?? 0) + 1;
};

/** `fpa-bench:<db>:rl:register:<hash>` → `rl:register`. */
export function keyFamily(key: unknown): string {
  return String(key ?? '')
    .replace(/^fpa-bench:[^:]+:/, '')
    .split(':')
    .slice(0, 2)
    .join(':');
}

/** `INSERT INTO device_sessions (…)\n VALUES …` → its first 60 characters, whitespace folded. */
export function statementLabel(sql: unknown): string {
  return String(sql).replace(/\s+/g, ' ').trim().slice(0, 60);
}

const query = Client.prototype.query as (...args: unknown[]) => unknown;
Client.prototype.query = function (this: Client, ...args: unknown[]) {
  const config = args[0];
  count(`pg ${statementLabel(typeof config === 'string' ? config : (config as { text?: unknown } | undefined)?.text)}`);
  return query.apply(this, args);
} as typeof Client.prototype.query;

const sendCommand = Redis.prototype.sendCommand as (...args: unknown[]) => unknown;
Redis.prototype.sendCommand = function (this: Redis, ...args: unknown[]) {
  const command = args[0] as { name: string; args: unknown[] };
  // EVALSHA sha numkeys key…: the first key names the family.
  count(`redis ${command.name} ${keyFamily(command.name === 'evalsha' ? command.args[2] : command.args[0])}`);
  return sendCommand.apply(this, args);
} as typeof Redis.prototype.sendCommand;

setInterval(() => writeFileSync(join(tmpdir(), `fpa-store-calls-${process.pid}.json`), JSON.stringify({ at: Date.now(), counts })), 500).unref();
