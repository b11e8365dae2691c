import type { default as Redis, RedisOptions } from 'ioredis';
import { OAuthError } from '@fpa/oauth-core';
import type { Admission, Admitted, ClaimResult, EphemeralStore, Flag, SingleUseClaim, Versioned, WatchedClaims } from './ephemeral-store';
import { claimOutcome, GenerationTracker, revocationsNotRestored, type GenerationReason, type MarkerReading, type StoreGeneration } from './generation';
import { StoreKeys } from './store-keys';

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

/**
 * The generation marker (generation.ts, `resolveMarker` is the same rules in TypeScript), read by
 * every claim and flag check in the same script. KEYS[1] = the marker (a hash: epoch, id, started,
 * restored, reason, and `seq:<replica>` claim counters); ARGV[1..6] = the epoch, id and claim count
 * this process knows, its clock (ms), its replica id, and '1' when a missing marker is the
 * deployment's first (genesis). A marker that is missing, older than the caller's, another
 * generation under the caller's epoch, or whose count for this replica is below the caller's (a
 * failover or restore lost this replica's claims) is replaced by the next generation — inside the
 * script, so two replicas cannot both start one. Returns {epoch, id, started, restored, reason,
 * this replica's count, 1 when this call started it}.
 */
const GENERATION_LUA = `
local function generation(count)
  local seqField = 'seq:' .. ARGV[5]
  local m = redis.call('HMGET', KEYS[1], 'epoch', 'id', 'started', 'restored', 'reason', seqField)
  local knownEpoch = tonumber(ARGV[1])
  local epoch = tonumber(m[1])
  local reason = false
  if not epoch then
    if ARGV[6] == '1' then reason = 'genesis' else reason = 'missing' end
  elseif epoch < knownEpoch or (epoch == knownEpoch and (m[2] ~= ARGV[2] or tonumber(m[6] or '0') < tonumber(ARGV[3]))) then
    reason = 'regressed'
  end
  if reason then
    epoch = math.max(epoch or 0, knownEpoch) + 1
    local started, restored = ARGV[4], false
    if reason == 'genesis' then started, restored = '0', ARGV[4] end
    m = { tostring(epoch), ARGV[5] .. '-' .. epoch, started, restored, reason, false }
    redis.call('DEL', KEYS[1])
    redis.call('HSET', KEYS[1], 'epoch', m[1], 'id', m[2], 'started', m[3], 'reason', reason)
    if restored then redis.call('HSET', KEYS[1], 'restored', restored) end
  end
  local seq = tonumber(m[6] or '0')
  if count then seq = redis.call('HINCRBY', KEYS[1], seqField, 1) end
  return { m[1], m[2], m[3], m[4] or '', m[5] or '', seq, reason and 1 or 0 }
end
`;
const GENERATION_ARGS = 6;

// One command for all of a request's single-use values: the marker, then SET NX EX per key (1 = new,
// 0 = replay). ARGV[7] = n, the number of claimed keys (KEYS[2..n+1], TTLs ARGV[8..]); any keys
// after them are watched flags: -1 while the generation's flags are not refilled, else 1 followed by
// each watched key's value (nil when absent).
const CLAIM_SCRIPT = `${GENERATION_LUA}
local out = generation(true)
local n = tonumber(ARGV[${GENERATION_ARGS + 1}])
for i = 2, n + 1 do
  out[#out + 1] = redis.call('SET', KEYS[i], '1', 'EX', ARGV[i + ${GENERATION_ARGS}], 'NX') and 1 or 0
end
if #KEYS > n + 1 then
  if out[4] == '' then out[#out + 1] = -1 else
    out[#out + 1] = 1
    for _, v in ipairs(redis.call('MGET', unpack(KEYS, n + 2))) do out[#out + 1] = v end
  end
end
return out`;

/**
 * EphemeralStore.admit. KEYS[1] = marker, then the hit keys, the claim keys and the key to read
 * (if any); ARGV = the generation arguments, the number of hits, of claims, 1 to read, then
 * (window, limit) per hit and the TTL per claim. The first hit over its limit returns {its index
 * (1-based), its TTL} at once; otherwise {0, 0, the generation reply (with claims), 1|0 per claim,
 * the value read (nil when absent)}. Hits as HIT_SCRIPT, claims as CLAIM_SCRIPT.
 */
const ADMIT_SCRIPT = `${GENERATION_LUA}
local base = ${GENERATION_ARGS}
local nh, nc, rd = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
for i = 1, nh do
  local key, window = KEYS[1 + i], ARGV[base + 2 + 2 * i]
  local c = redis.call('INCR', key)
  if c == 1 then redis.call('EXPIRE', key, window) end
  local ttl = redis.call('TTL', key)
  if ttl < 0 then redis.call('EXPIRE', key, window); ttl = tonumber(window) end
  if c > tonumber(ARGV[base + 3 + 2 * i]) then return {i, ttl} end
end
local out = {0, 0}
if nc > 0 then
  for _, v in ipairs(generation(true)) do out[#out + 1] = v end
  for i = 1, nc do
    out[#out + 1] = redis.call('SET', KEYS[1 + nh + i], '1', 'EX', ARGV[base + 3 + 2 * nh + i], 'NX') and 1 or 0
  end
end
if rd == 1 then out[#out + 1] = redis.call('GET', KEYS[2 + nh + nc]) end
return out`;

// Flags count only once the generation's flags were refilled from PostgreSQL: -1 = not yet.
const FLAGS_SCRIPT = `${GENERATION_LUA}
local out = generation(false)
if out[4] == '' then out[#out + 1] = -1 else out[#out + 1] = redis.call('EXISTS', unpack(KEYS, 2)) end
return out`;

const SYNC_SCRIPT = `${GENERATION_LUA}
return generation(false)`;

// KEYS[1] = marker; ARGV = epoch, time. Only the generation that was refilled is marked.
const RESTORED_SCRIPT = `
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return 0 end
redis.call('HSETNX', KEYS[1], 'restored', ARGV[2])
return 1`;

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

/** {epoch, id, started, restored, reason, seq, established, ...results} as the scripts return it. */
type GenerationReply = (string | number)[];

type ScriptedRedis = Redis & {
  fpaCas(key: string, expected: number, value: string, ttl: number): Promise<number>;
  fpaClaim(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Promise<GenerationReply>;
  fpaAdmit(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Promise<(string | number | null)[]>;
  fpaFlags(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Promise<GenerationReply>;
  fpaSync(marker: string, ...args: (string | number)[]): Promise<GenerationReply>;
  fpaRestored(marker: string, epoch: number, atMs: number): Promise<number>;
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
  readonly generation = new GenerationTracker();
  private readonly redis: ScriptedRedis;

  /** `now`: the clock a generation started here is stamped with (epoch ms). */
  constructor(
    url: string,
    keyPrefix: string,
    extra: RedisOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    // ioredis is loaded when a Redis store is made, not when this file is: the embedded default's
    // in-process store never pays for its ~40 modules at start-up (issue 13 goal 4).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const IORedis = (require('ioredis') as typeof import('ioredis')).default;
    this.redis = new IORedis(url, {
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
    this.redis.defineCommand('fpaFlags', { lua: FLAGS_SCRIPT });
    this.redis.defineCommand('fpaAdmit', { lua: ADMIT_SCRIPT });
    this.redis.defineCommand('fpaSync', { numberOfKeys: 1, lua: SYNC_SCRIPT });
    this.redis.defineCommand('fpaRestored', { numberOfKeys: 1, lua: RESTORED_SCRIPT });
    this.redis.defineCommand('fpaCas', { numberOfKeys: 1, lua: CAS_SCRIPT });
  }

  async connect(): Promise<void> {
    await this.redis.connect();
  }

  get client(): Redis {
    return this.redis;
  }

  async claimOnce(key: string, ttlSeconds: number): Promise<boolean> {
    return (await this.claimEachOnce([{ key, ttlSeconds }]))[0] === 'claimed';
  }

  async claimEachOnce(claims: readonly SingleUseClaim[]): Promise<ClaimResult[]> {
    if (claims.length === 0) return [];
    return (await this.claimEachOnceWatching(claims, [])).results;
  }

  claimEachOnceWatching(claims: readonly SingleUseClaim[], watch: readonly string[]): Promise<WatchedClaims> {
    if (claims.length === 0) throw new Error('claimEachOnceWatching needs at least one claim');
    return this.run(async () => {
      const ttls = claims.map((c) => Math.max(1, Math.ceil(c.ttlSeconds)));
      const keys = [StoreKeys.generation, ...claims.map((c) => c.key), ...watch];
      const reply = await this.redis.fpaClaim(keys.length, ...keys, ...this.generationArgs(false), claims.length, ...ttls);
      const generation = this.observe(reply);
      const results = claims.map((c, i) => claimOutcome(Number(reply[REPLY_FIELDS + i]) === 1, c.acceptableSince, generation));
      if (watch.length === 0) return { results, flagged: false, values: [], generation };
      const at = REPLY_FIELDS + claims.length;
      if (Number(reply[at]) < 0) return { results, flagged: undefined, values: undefined, generation };
      const values = watch.map((_, i) => (reply[at + 1 + i] == null ? null : String(reply[at + 1 + i])));
      return { results, flagged: values.some((v) => v !== null), values, generation };
    });
  }

  hit(key: string, windowSeconds: number): Promise<{ count: number; resetSeconds: number }> {
    return this.run(async () => {
      const [count, ttl] = await this.redis.fpaHit(key, windowSeconds);
      return { count: Number(count), resetSeconds: Math.max(1, Number(ttl)) };
    });
  }

  admit<T>(a: Admission): Promise<Admitted<T>> {
    return this.run(async () => {
      const read = a.read === undefined ? [] : [a.read];
      const reply = await this.redis.fpaAdmit(
        1 + a.hits.length + a.claims.length + read.length,
        StoreKeys.generation,
        ...a.hits.map((h) => h.key),
        ...a.claims.map((c) => c.key),
        ...read,
        ...this.generationArgs(false),
        a.hits.length,
        a.claims.length,
        read.length,
        ...a.hits.flatMap((h) => [h.windowSeconds, h.limit]),
        ...a.claims.map((c) => Math.max(1, Math.ceil(c.ttlSeconds))),
      );
      const limitedAt = Number(reply[0]);
      if (limitedAt > 0) return { limited: { index: limitedAt - 1, resetSeconds: Math.max(1, Number(reply[1])) } };
      let at = 2;
      let claims: ClaimResult[] = [];
      if (a.claims.length > 0) {
        const generation = this.observe(reply.slice(at, at + REPLY_FIELDS) as GenerationReply);
        at += REPLY_FIELDS;
        claims = a.claims.map((c, i) => claimOutcome(Number(reply[at + i]) === 1, c.acceptableSince, generation));
        at += a.claims.length;
      }
      return { claims, value: a.read === undefined ? undefined : parseVersioned<T>(reply[at] as string | null) };
    });
  }

  unhit(key: string): Promise<void> {
    return this.run(async () => {
      await this.redis.fpaUnhit(key);
    });
  }

  setFlags(flags: readonly Flag[]): Promise<void> {
    if (flags.length === 0) return Promise.resolve();
    return this.run(async () => {
      const pipeline = this.redis.pipeline();
      for (const f of flags) pipeline.set(f.key, f.value ?? '1', 'EX', Math.max(1, Math.ceil(f.ttlSeconds)));
      for (const [err] of (await pipeline.exec()) ?? []) if (err) throw err;
    });
  }

  async anyFlagged(keys: readonly string[]): Promise<boolean> {
    if (keys.length === 0) return false;
    const count = await this.run(async () => {
      const reply = await this.redis.fpaFlags(keys.length + 1, StoreKeys.generation, ...keys, ...this.generationArgs(false));
      this.observe(reply);
      return Number(reply[REPLY_FIELDS]);
    });
    if (count < 0) throw revocationsNotRestored();
    return count > 0;
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

  syncGeneration(options: { readonly genesis?: boolean } = {}): Promise<StoreGeneration> {
    return this.run(async () => this.observe(await this.redis.fpaSync(StoreKeys.generation, ...this.generationArgs(options.genesis === true))));
  }

  markRevocationsRestored(epoch: number, atMs: number): Promise<boolean> {
    return this.run(async () => {
      const marked = (await this.redis.fpaRestored(StoreKeys.generation, epoch, Math.floor(atMs))) === 1;
      // Learn the restored generation (one more read, off the hot path: once per generation).
      if (marked) this.observe(await this.redis.fpaSync(StoreKeys.generation, ...this.generationArgs(false)));
      return marked;
    });
  }

  private generationArgs(genesis: boolean): (string | number)[] {
    const known = this.generation.expectation();
    return [known.epoch, known.id, known.seq, Math.floor(this.now()), this.generation.replicaId, genesis ? '1' : '0'];
  }

  private observe(reply: GenerationReply): StoreGeneration {
    return this.generation.observe(parseReading(reply));
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

/** Fields before a script's own results in a generation reply. */
const REPLY_FIELDS = 7;

function parseReading(r: GenerationReply): MarkerReading {
  const restored = String(r[3]);
  return {
    generation: { epoch: Number(r[0]), id: String(r[1]), startedAtMs: Number(r[2]), restoredAtMs: restored === '' ? undefined : Number(restored), reason: String(r[4]) as GenerationReason },
    seq: Number(r[5]),
    established: Number(r[6]) === 1,
  };
}

export function parseVersioned<T>(raw: string | null | undefined): Versioned<T> | undefined {
  if (!raw) return undefined;
  const bar = raw.indexOf('|');
  return { version: Number(raw.slice(0, bar)), value: JSON.parse(raw.slice(bar + 1)) as T };
}
