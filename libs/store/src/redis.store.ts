import Redis, { type RedisOptions } from 'ioredis';
import { OAuthError } from '@fpa/oauth-core';
import type { EphemeralStore, Versioned } from './ephemeral-store';

const HIT_SCRIPT = `
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {c, ttl}`;

// DECR keeps the key's TTL; a missing or zero counter stays as it is.
const UNHIT_SCRIPT = `
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
if c and c > 0 then redis.call('DECR', KEYS[1]) end
return 0`;

// One command for all of a request's single-use values: SET NX EX per key, 1 = claimed, 0 = replay.
const CLAIM_SCRIPT = `
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('SET', key, '1', 'EX', ARGV[i], 'NX') and 1 or 0
end
return out`;

// Versioned values are stored as "<version>|<json>"; KEYS[1], ARGV = expected, new value, ttl.
const CAS_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
local v = 0
if cur then v = tonumber(string.match(cur, '^(%d+)|')) end
if v ~= tonumber(ARGV[1]) then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], (v + 1) .. '|' .. ARGV[2], 'EX', ARGV[3]) end
return 1`;

const TAKE_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if v then redis.call('DEL', KEYS[1]) end
return v`;

type ScriptedRedis = Redis & {
  fpaCas(key: string, expected: number, value: string, ttl: number): Promise<number>;
  fpaClaim(numberOfKeys: number, ...keysThenTtls: (string | number)[]): Promise<number[]>;
  fpaHit(key: string, window: number): Promise<[number, number]>;
  fpaUnhit(key: string): Promise<number>;
  fpaTake(key: string): Promise<string | null>;
};

/**
 * Redis adapter. The offline queue is off and each command gets one retry, so a Redis outage
 * turns into a fast 503 instead of requests piling up; the client reconnects by itself and the
 * suite recovers when Redis is back.
 */
export class RedisStore implements EphemeralStore {
  readonly kind = 'redis' as const;
  private readonly redis: ScriptedRedis;

  constructor(url: string, keyPrefix: string, extra: RedisOptions = {}) {
    this.redis = new Redis(url, {
      keyPrefix,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      retryStrategy: (times) => Math.min(times * 100, 2000),
      ...extra,
    }) as ScriptedRedis;
    // Errors surface on the commands that fail; the connection event would only repeat them.
    this.redis.on('error', () => undefined);
    this.redis.defineCommand('fpaHit', { numberOfKeys: 1, lua: HIT_SCRIPT });
    this.redis.defineCommand('fpaUnhit', { numberOfKeys: 1, lua: UNHIT_SCRIPT });
    this.redis.defineCommand('fpaTake', { numberOfKeys: 1, lua: TAKE_SCRIPT });
    this.redis.defineCommand('fpaClaim', { lua: CLAIM_SCRIPT });
    this.redis.defineCommand('fpaCas', { numberOfKeys: 1, lua: CAS_SCRIPT });
  }

  async connect(): Promise<void> {
    await this.redis.connect();
  }

  get client(): Redis {
    return this.redis;
  }

  claimOnce(key: string, ttlSeconds: number): Promise<boolean> {
    return this.run(async () => (await this.redis.set(key, '1', 'EX', ttlSeconds, 'NX')) === 'OK');
  }

  claimEachOnce(claims: readonly { key: string; ttlSeconds: number }[]): Promise<boolean[]> {
    if (claims.length === 0) return Promise.resolve([]);
    return this.run(async () => {
      const ttls = claims.map((c) => Math.max(1, Math.ceil(c.ttlSeconds)));
      const results = await this.redis.fpaClaim(claims.length, ...claims.map((c) => c.key), ...ttls);
      return results.map((r) => Number(r) === 1);
    });
  }

  hit(key: string, windowSeconds: number): Promise<{ count: number; resetSeconds: number }> {
    return this.run(async () => {
      const [count, ttl] = await this.redis.fpaHit(key, windowSeconds);
      return { count: Number(count), resetSeconds: Math.max(1, Number(ttl)) };
    });
  }

  unhit(key: string): Promise<void> {
    return this.run(async () => {
      await this.redis.fpaUnhit(key);
    });
  }

  setFlags(flags: readonly { key: string; ttlSeconds: number }[]): Promise<void> {
    if (flags.length === 0) return Promise.resolve();
    return this.run(async () => {
      const pipeline = this.redis.pipeline();
      for (const f of flags) pipeline.set(f.key, '1', 'EX', Math.max(1, Math.ceil(f.ttlSeconds)));
      for (const [err] of (await pipeline.exec()) ?? []) if (err) throw err;
    });
  }

  anyFlagged(keys: readonly string[]): Promise<boolean> {
    if (keys.length === 0) return Promise.resolve(false);
    return this.run(async () => (await this.redis.exists(...keys)) > 0);
  }

  getJson<T>(key: string): Promise<T | undefined> {
    return this.run(async () => {
      const v = await this.redis.get(key);
      return v === null ? undefined : (JSON.parse(v) as T);
    });
  }

  setJson(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    return this.run(async () => {
      await this.redis.set(key, JSON.stringify(value), 'EX', Math.max(1, Math.ceil(ttlSeconds)));
    });
  }

  takeJson<T>(key: string): Promise<T | undefined> {
    return this.run(async () => {
      const v = await this.redis.fpaTake(key);
      return v === null ? undefined : (JSON.parse(v) as T);
    });
  }

  delete(key: string): Promise<void> {
    return this.run(async () => {
      await this.redis.del(key);
    });
  }

  getVersioned<T>(key: string): Promise<Versioned<T> | undefined> {
    return this.run(async () => parseVersioned<T>(await this.redis.get(key)));
  }

  compareAndSet(key: string, expected: number, value: unknown, ttlSeconds: number): Promise<boolean> {
    return this.run(async () => (await this.redis.fpaCas(key, expected, JSON.stringify(value), Math.max(1, Math.ceil(ttlSeconds)))) === 1);
  }

  compareAndDelete(key: string, expected: number): Promise<boolean> {
    return this.run(async () => (await this.redis.fpaCas(key, expected, '', 1)) === 1);
  }

  ping(): Promise<void> {
    return this.run(async () => {
      await this.redis.ping();
    });
  }

  async close(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }

  private async run<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (e) {
      throw new OAuthError('temporarily_unavailable', 'the replay-protection store is unavailable; retry later', {
        headers: { 'Retry-After': '1' },
        reason: 'redis_unavailable',
        cause: e,
      });
    }
  }
}

export function parseVersioned<T>(raw: string | null | undefined): Versioned<T> | undefined {
  if (!raw) return undefined;
  const bar = raw.indexOf('|');
  return { version: Number(raw.slice(0, bar)), value: JSON.parse(raw.slice(bar + 1)) as T };
}
