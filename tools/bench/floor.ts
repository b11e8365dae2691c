import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import autocannon from 'autocannon';
import Redis from 'ioredis';
import { Pool } from 'pg';
import { generateClientKeyPair, importPublicJwk, signJwt, verifyJwt, type ClientKeyPair } from '@fpa/crypto';
import { checkStores, createDatabase, PRODUCTION_NODE_ARGS } from '@fpa/testing';

/**
 * `npm run bench:floor` — the infrastructure floor on this machine. A bare node:http server does
 * what the token endpoint cannot avoid — two ES256 verifications and one signature (jose), the
 * Redis single-use claim, the session SELECT and the refresh-token INSERT — adding one layer at a
 * time. The gap between the last line and `npm run bench` is what the framework and the
 * application add per request.
 */
const LAYERS: readonly (readonly string[])[] = [[], ['redis'], ['redis', 'pg']];
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

async function serve(layers: string[], dbUrl: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { keyPrefix: `fpa-floor:${process.pid}:` });
  redis.defineCommand('claim', { lua: "local o={} for i,k in ipairs(KEYS) do o[i]=redis.call('SET',k,'1','EX',ARGV[i],'NX') and 1 or 0 end return o" });
  const claim = (redis as unknown as { claim(n: number, ...a: (string | number)[]): Promise<number[]> }).claim.bind(redis);
  const pool = new Pool({ connectionString: dbUrl, max: 10 });
  const [device, dpop, server] = await Promise.all([generateClientKeyPair(), generateClientKeyPair(), generateClientKeyPair()]);
  const sign = (k: ClientKeyPair, p: Record<string, unknown>): Promise<string> => signJwt(p, { alg: 'ES256' }, k.privateKey);
  const [assertion, proof] = await Promise.all([sign(device, { sub: 'a' }), sign(dpop, { htm: 'POST' })]);
  // Public keys imported once, as the app's caches do.
  const [devicePub, dpopPub] = await Promise.all([importPublicJwk(device.publicJwk, 'ES256'), importPublicJwk(dpop.publicJwk, 'ES256')]);
  const httpServer = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      void (async () => {
        await Promise.all([
          verifyJwt(assertion, devicePub, { algorithms: ['ES256'], currentDate: new Date(), clockToleranceSeconds: 5 }),
          verifyJwt(proof, dpopPub, { algorithms: ['ES256'], currentDate: new Date(), clockToleranceSeconds: 5 }),
          layers.includes('pg') ? pool.query('SELECT id, v FROM floor_sessions WHERE id = $1', ['k']) : undefined,
        ]);
        if (layers.includes('redis')) await claim(2, `a${randomUUID()}`, `b${randomUUID()}`, 60, 60);
        const token = await sign(server, { sub: 'x', jti: randomUUID() });
        if (layers.includes('pg')) {
          await pool.query('INSERT INTO floor_tokens (id, h, a, b, c) VALUES ($1, $2, $3, $4, $5)', [randomUUID(), randomBytes(32).toString('base64url'), 'x', 'y', new Date()]);
        }
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify({ access_token: token, token_type: 'DPoP', expires_in: 600 }));
      })();
    });
  });
  httpServer.listen(0, '127.0.0.1', () => process.send?.({ port: (httpServer.address() as { port: number }).port }));
}

async function drive(port: number): Promise<{ rps: number; p50: number; p99: number }> {
  const body = `grant_type=client_credentials&${'x'.repeat(900)}`;
  const r = await autocannon({ url: `http://127.0.0.1:${port}/token`, method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' }, connections: 32, duration: 8 });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 };
}

async function main(): Promise<void> {
  if (process.argv[2] === 'serve') return serve(process.argv[4] ? process.argv[4].split(',') : [], process.argv[3]);
  await checkStores({ databaseUrl: ADMIN_URL, redisUrl: REDIS_URL, databaseVar: 'BENCH_DATABASE_URL' });
  const db = await createDatabase('floor', { adminUrl: ADMIN_URL, prefix: 'fpa' });
  const rows: string[] = [];
  try {
    await db.query(`CREATE TABLE floor_sessions (id text PRIMARY KEY, v jsonb); INSERT INTO floor_sessions VALUES ('k', '{"a":1}');
                    CREATE TABLE floor_tokens (id uuid PRIMARY KEY, h text UNIQUE, a text, b text, c timestamptz)`);
    for (const layers of LAYERS) {
      const child: ChildProcess = fork(__filename, ['serve', db.url, layers.join(',')], { execArgv: [...PRODUCTION_NODE_ARGS] });
      const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
      const r = await drive(port);
      child.kill();
      const label = `node:http + 3 × ES256 (jose)${layers.includes('redis') ? ' + Redis claim' : ''}${layers.includes('pg') ? ' + session SELECT + refresh-token INSERT' : ''}`;
      rows.push(`| ${label} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} |`);
      console.log(rows.at(-1));
    }
  } finally {
    await db.drop();
  }
  console.log(['', '| Floor server (32 connections, 8 s) | req/s | p50 (ms) | p99 (ms) |', '|---|---:|---:|---:|', ...rows].join('\n'));
}

void main().then(
  () => undefined,
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
