import { readFileSync } from 'node:fs';
import http from 'node:http';

/**
 * The other side of `npm run bench:compare` (issue 13): panva's node-oidc-provider (a devDependency)
 * in its own process, configured for its closest equivalent of our device grant —
 * `client_credentials` with `private_key_jwt`, DPoP with a mandatory server nonce, JWT access
 * tokens (ES256, RFC 9068 through its resource-indicators feature) — and, for the refresh
 * comparison, `refresh_token` with rotation. Everything is kept in memory by its own MemoryAdapter.
 *
 * Started by compare.ts as `node dist/tools/bench/compare-oidc-server.js` with BENCH_OP_CONFIG (a
 * JSON file, see OidcServerConfig) and PORT; prints `{"port": …}` once listening.
 * `POST /__bench/refresh-tokens` (with the control secret) mints refresh tokens as logins would
 * have left them: one Grant per token, so each is its own family, as each device session is ours.
 *
 * oidc-provider is ESM-only: Node ≥ 20.19 loads it through require(esm), which the swc build emits.
 */

/** What compare.ts hands over in the file named by BENCH_OP_CONFIG. */
export interface OidcServerConfig {
  /** One private_key_jwt client per simulated device, each with its own EC P-256 key. */
  readonly clients: readonly { readonly client_id: string; readonly jwks: { readonly keys: readonly Record<string, unknown>[] } }[];
  /** The access-token signing key (a private EC P-256 JWK with `kid`). */
  readonly signingKey: Record<string, unknown>;
  /** features.dPoP.nonceSecret: 32 bytes, base64url. */
  readonly nonceSecret: string;
  /** The resource server the JWT access tokens are for (our default audience's equivalent). */
  readonly resource: string;
  readonly scope: string;
  readonly accessTokenTtlSeconds: number;
  readonly refreshTokenTtlSeconds: number;
  /** Required in `x-bench-control` by the refresh-token seeding endpoint. */
  readonly controlSecret: string;
}

type AnyModel = { new (fields: Record<string, unknown>): { save(): Promise<string>; addResourceScope?(resource: string, scope: string): void } };
interface OidcProvider {
  on(event: string, listener: (ctx: unknown, err: Error & { error_description?: string; error_detail?: string }) => void): void;
  callback(): (req: http.IncomingMessage, res: http.ServerResponse) => void;
  readonly Grant: AnyModel;
  readonly RefreshToken: AnyModel;
  readonly Client: { find(id: string): Promise<unknown> };
}

/** Loaded when the server starts, not when a spec imports this file (jest cannot require an ES module). */
type MemoryAdapterClass = new (model: string, store: ExpiringStore, clockTolerance: number) => unknown;
function loadOidcProvider(): { Provider: new (issuer: string, config: Record<string, unknown>) => OidcProvider; MemoryAdapter: MemoryAdapterClass } {
  /* eslint-disable @typescript-eslint/no-require-imports -- oidc-provider ships no types and is ESM-only (require(esm)). */
  const { default: Provider } = require('oidc-provider') as { default: new (issuer: string, config: Record<string, unknown>) => OidcProvider };
  const { default: MemoryAdapter } = require('oidc-provider/lib/adapters/memory_adapter.js') as { default: MemoryAdapterClass };
  /* eslint-enable @typescript-eslint/no-require-imports */
  return { Provider, MemoryAdapter };
}

/**
 * The MemoryAdapter's storage without its 1,000-entry LRU bound: an LRU that small forgets
 * replay-detection records (client assertion and DPoP proof `jti`s) and refresh tokens within a
 * fraction of a round, so jtis could be replayed and seeded refresh tokens would vanish. Entries
 * expire as the LRU's do (`maxAge`), and expired ones are swept every few seconds.
 */
export class ExpiringStore {
  private readonly entries = new Map<string, { value: unknown; expiry: number }>();

  /** `sweepMs` 0: no timer (expired entries still read as absent). */
  constructor(sweepMs = 0) {
    if (sweepMs > 0) setInterval(() => this.sweep(), sweepMs).unref();
  }

  get(key: string): unknown {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expiry <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key: string, value: unknown, options?: { maxAge?: number }): void {
    this.entries.set(key, { value, expiry: options?.maxAge === undefined ? Infinity : Date.now() + options.maxAge });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  sweep(now = Date.now()): void {
    for (const [key, e] of this.entries) if (e.expiry <= now) this.entries.delete(key);
  }
}

/** node-oidc-provider's default `clockTolerance`, which its default adapter factory is given too. */
const CLOCK_TOLERANCE_SECONDS = 15;

function providerConfig(c: OidcServerConfig): Record<string, unknown> {
  return {
    clients: c.clients.map((client) => ({
      client_id: client.client_id,
      jwks: client.jwks,
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      // The keystore holds one ES256 key only (no ID token is issued: no openid scope).
      id_token_signed_response_alg: 'ES256',
      grant_types: ['client_credentials', 'refresh_token'],
      response_types: [],
      redirect_uris: [],
      scope: c.scope,
      dpop_bound_access_tokens: true,
    })),
    jwks: { keys: [c.signingKey] },
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    // Client metadata `scope` may only hold values the provider lists; offline_access enables the refresh_token grant.
    scopes: ['offline_access', c.scope],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // RFC 9449 with a server nonce on every request (our DPOP nonce policy).
      dPoP: { enabled: true, nonceSecret: Buffer.from(c.nonceSecret, 'base64url'), requireNonce: () => true },
      // JWT access tokens (RFC 9068) exist only for a resource server; every token is for this one.
      resourceIndicators: {
        enabled: true,
        defaultResource: () => c.resource,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({ scope: c.scope, audience: c.resource, accessTokenTTL: c.accessTokenTtlSeconds, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } }),
      },
    },
    // Rotation on every use, as ours (a used refresh token is consumed and a new one stored).
    rotateRefreshToken: true,
    ttl: {
      ClientCredentials: c.accessTokenTtlSeconds,
      AccessToken: c.accessTokenTtlSeconds,
      RefreshToken: c.refreshTokenTtlSeconds,
      Grant: c.refreshTokenTtlSeconds,
    },
  };
}

async function main(): Promise<void> {
  const configPath = process.env.BENCH_OP_CONFIG;
  if (!configPath) throw new Error('BENCH_OP_CONFIG (the configuration file) is not set');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as OidcServerConfig;
  const { Provider, MemoryAdapter } = loadOidcProvider();
  // Its own MemoryAdapter (what it uses by default, via createMemoryAdapter) over the unbounded store.
  const store = new ExpiringStore(5_000);
  const adapter = (model: string): unknown => new MemoryAdapter(model, store, CLOCK_TOLERANCE_SECONDS);
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const provider = new Provider(`http://127.0.0.1:${port}`, { ...providerConfig(config), adapter });
  // The first few refusals, with the reason the response hides, for the comparison's failure report.
  let reported = 0;
  for (const event of ['grant.error', 'server_error']) {
    provider.on(event, (_ctx, err) => {
      if (reported++ < 5) console.error(`oidc-provider ${event}: ${err.message} (${err.error_description ?? ''}; ${err.error_detail ?? ''}) ${String((err as { cause?: unknown }).cause ?? '')}`);
    });
  }
  const callback = provider.callback();
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.url === '/__bench/refresh-tokens' && req.method === 'POST') {
      void seedRefreshTokens(provider, config, req, res);
      return;
    }
    callback(req, res);
  });
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

/** `{"count": n}` → `{"tokens": [{"client_id", "refresh_token"}]}`, round-robin over the clients. */
async function seedRefreshTokens(provider: OidcProvider, config: OidcServerConfig, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  try {
    if (req.headers['x-bench-control'] !== config.controlSecret) {
      res.writeHead(403).end();
      return;
    }
    let body = '';
    for await (const chunk of req) body += String(chunk);
    const { count } = JSON.parse(body) as { count: number };
    const clients = await Promise.all(config.clients.map((c) => provider.Client.find(c.client_id)));
    const tokens: { client_id: string; refresh_token: string }[] = [];
    for (let i = 0; i < count; i++) {
      const clientId = config.clients[i % clients.length].client_id;
      const accountId = `bench-user-${i}`;
      const grant = new provider.Grant({ accountId, clientId });
      grant.addResourceScope!(config.resource, config.scope);
      const grantId = await grant.save();
      const rt = new provider.RefreshToken({ client: clients[i % clients.length], accountId, grantId, scope: config.scope, resource: config.resource, gty: 'authorization_code' });
      tokens.push({ client_id: clientId, refresh_token: await rt.save() });
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ tokens }));
  } catch (e) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end(String((e as Error).stack ?? e));
  }
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
