import { randomUUID } from 'node:crypto';
import { AuthorizationDetailsRegistry, EXAMPLE_DETAIL_TYPES } from '@fpa/authz-request';
import { CLIENT_METADATA_DEFAULTS, type Client } from '@fpa/clients';
import { loadConfig, type AppConfig } from '@fpa/config';
import { generateSigningKey, importPrivateJwk, parsePublicJwkSet, randomToken, sha256B64u, signJwt, type GeneratedKeyPair, type JWK, type JWTPayload, type SigningKey } from '@fpa/crypto';
import { DpopMetrics } from '@fpa/dpop';
import { FixedClock, type Clock, type RequestInfo } from '@fpa/oauth-core';
import { MetricsRegistry, type AuditEvent } from '@fpa/platform';
import { DeviceSessionCache, type AuthorizationCode, type CodeWithSession, type DeviceSession, type FamilyFromCode, type IssuedAccessTokenRef, type IssuedFromCode, type Redeemed, type RefreshTokenEntity, type RefreshTokenGrant } from '@fpa/session';
import type { EphemeralStore } from '@fpa/store';
import { ClientKeySets } from '../client-keys/client-key-sets.service';
import { JwksFetchError, type FetchedJwks, type JwksSource } from '../client-keys/jwks-fetcher';
import { RemoteKeySets } from '../client-keys/remote-key-sets';
import { TokenMetrics } from '../token.metrics';
import { PopBinder, type PopKeyLookup } from '../pop/pop-binder.service';
import { PopResourceServerRegistry, type PopResourceServer } from '../pop/pop-resource-servers';
import type { AccessTokenRevoker, AccessTokenSigner, AuditTrail, AuthorizationCodeStore, ClientLookup, RefreshTokenStore, SessionLookup } from '../ports';

/**
 * In-memory stand-ins for the token service's ports (ports.ts), for the unit specs beside the
 * grants, the authenticator and the endpoint. They keep the semantics the SQL has — single-use
 * consumption, rotation of active tokens only, family revocation returning the access tokens —
 * so a spec fails when a grant relies on something the real store would not do.
 */

export const ISSUER = 'https://auth.example.com';

export function testConfig(env: Record<string, string> = {}): AppConfig {
  return loadConfig('standalone', { ISSUER, DPOP_NONCE_SECRET: Buffer.alloc(32, 9).toString('base64url'), ...env });
}

/** A clock pinned near real time (DPoP proofs and assertions built by @fpa/crypto read Date.now()). */
export const testClock = (): FixedClock => new FixedClock(Date.now());

/** The RAR types of the embedded default (payment_initiation, account_information). */
export const testDetails = (): AuthorizationDetailsRegistry => new AuthorizationDetailsRegistry(EXAMPLE_DETAIL_TYPES);

export function testMetrics(): { registry: MetricsRegistry; token: TokenMetrics; dpop: DpopMetrics } {
  const registry = new MetricsRegistry();
  return { registry, token: new TokenMetrics(registry), dpop: new DpopMetrics(registry) };
}

/** Sum of a counter's values whose labels match `labels`. */
export async function counted(counter: { get(): Promise<{ values: { labels: Record<string, unknown>; value: number }[] }> }, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await counter.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0);
}

export function testClient(overrides: Partial<Client> = {}): Client {
  return {
    id: 'native-app',
    name: 'Native app',
    type: 'public',
    firstParty: true,
    grantTypes: ['client_credentials', 'refresh_token', 'authorization_code'],
    authMethods: ['private_key_jwt', 'none'],
    secretHash: null,
    scopes: ['openid', 'api.read'],
    resources: ['https://api.example.com'],
    permissions: [],
    dpopBoundAccessTokens: true,
    enabled: true,
    challengePolicy: null,
    ...CLIENT_METADATA_DEFAULTS,
    assertionAudience: null,
    ...overrides,
  };
}

export class FakeClients implements ClientLookup {
  readonly byId = new Map<string, Client>();
  constructor(...clients: Client[]) {
    for (const c of clients) this.byId.set(c.id, c);
  }
  async find(clientId: string): Promise<Client | undefined> {
    const c = this.byId.get(clientId);
    return c?.enabled ? c : undefined;
  }
}

export function testSession(overrides: Partial<DeviceSession> = {}): DeviceSession {
  return {
    authSession: randomToken(32),
    clientId: 'native-app',
    keyJkt: 'device-key-jkt',
    publicJwk: { kty: 'EC' },
    keyAlg: 'ES256',
    status: 'active',
    createdAt: new Date(Date.now() - 60_000),
    expiresAt: new Date(Date.now() + 3_600_000),
    absoluteExpiresAt: new Date(Date.now() + 7_200_000),
    kind: 'device',
    user: undefined,
    ...overrides,
  };
}

export class FakeSessions implements SessionLookup {
  readonly byId = new Map<string, DeviceSession>();
  add(session: DeviceSession): DeviceSession {
    this.byId.set(session.authSession, session);
    return session;
  }
  async find(authSession: string): Promise<DeviceSession | undefined> {
    return this.byId.get(authSession);
  }
}

/** The real DeviceSessionCache over FakeSessions (what ClientAuthenticator takes). */
export function sessionCache(sessions: SessionLookup, store: EphemeralStore, clock: Clock, config: AppConfig = testConfig()): DeviceSessionCache {
  return new DeviceSessionCache(config, clock, store, sessions);
}

export class FakeCodes implements AuthorizationCodeStore {
  readonly byValue = new Map<string, AuthorizationCode>();
  /** Sessions for `findWithSession` (the join) and the refresh tokens `redeem` starts. */
  constructor(
    private readonly sessions: SessionLookup = new FakeSessions(),
    private readonly refreshTokens: Pick<RefreshTokenStore, 'issue'> = new FakeRefreshTokens(),
  ) {}
  add(code: AuthorizationCode): string {
    const value = randomToken(32);
    this.byValue.set(value, code);
    return value;
  }
  async find(code: string): Promise<AuthorizationCode | undefined> {
    return this.byValue.get(code);
  }
  async findWithSession(code: string): Promise<CodeWithSession | undefined> {
    const c = this.byValue.get(code);
    return c ? { code: c, session: await this.sessions.find(c.authSession) } : undefined;
  }
  /** As the SQL: only an unconsumed, unexpired code is consumed, once; the family starts only then. */
  async redeem(code: string, now: Date, issued: IssuedFromCode, refresh?: FamilyFromCode): Promise<Redeemed> {
    const c = this.byValue.get(code);
    if (!c || c.consumedAt !== null || c.expiresAt.getTime() <= now.getTime()) return undefined;
    this.byValue.set(code, { ...c, consumedAt: now, ...issued, refreshFamilyId: refresh?.familyId ?? null });
    return { refreshToken: refresh ? await this.refreshTokens.issue(refresh.grant, now, refresh.expiresAt, refresh.familyId) : undefined };
  }
}

type MutableRefreshToken = { -readonly [K in keyof RefreshTokenEntity]: RefreshTokenEntity[K] };

export class FakeRefreshTokens implements RefreshTokenStore {
  readonly byHash = new Map<string, MutableRefreshToken>();

  async issue(grant: RefreshTokenGrant, now: Date, expiresAt: Date, id: string = randomUUID()): Promise<string> {
    return this.insert(grant, now, expiresAt, id, id, null);
  }
  async find(token: string): Promise<RefreshTokenEntity | undefined> {
    const rt = this.byHash.get(sha256B64u(token));
    return rt ? { ...rt } : undefined;
  }
  /** As the SQL: only an active, unexpired parent rotates; its child inherits the family's expiry. */
  async rotate(parentId: string, grant: RefreshTokenGrant, now: Date): Promise<string | undefined> {
    const parent = [...this.byHash.values()].find((r) => r.id === parentId);
    if (!parent || parent.status !== 'active' || parent.expiresAt.getTime() <= now.getTime()) return undefined;
    parent.status = 'rotated';
    parent.usedAt = now;
    return this.insert(grant, now, parent.expiresAt, randomUUID(), parent.familyId, parent.id);
  }
  async revokeFamily(familyId: string, reason: string, now: Date): Promise<IssuedAccessTokenRef[]> {
    const out: IssuedAccessTokenRef[] = [];
    for (const r of this.byHash.values()) {
      if (r.familyId !== familyId || r.status === 'revoked') continue;
      Object.assign(r, { status: 'revoked', revokedAt: now, revokedReason: reason });
      out.push({ jti: r.accessTokenJti, expiresAt: r.accessTokenExpiresAt });
    }
    return out;
  }
  family(familyId: string): RefreshTokenEntity[] {
    return [...this.byHash.values()].filter((r) => r.familyId === familyId);
  }
  private insert(grant: RefreshTokenGrant, now: Date, expiresAt: Date, id: string, familyId: string, parentId: string | null): string {
    const token = randomToken(32);
    const row: MutableRefreshToken = {
      id,
      tokenHash: sha256B64u(token),
      familyId,
      parentId,
      ...grant,
      authorizationDetails: grant.authorizationDetails ? [...grant.authorizationDetails] : null,
      pop: grant.pop ? { ...grant.pop } : null,
      status: 'active',
      createdAt: now,
      expiresAt,
      usedAt: null,
      revokedAt: null,
      revokedReason: null,
    };
    this.byHash.set(row.tokenHash, row);
    return token;
  }
}

export class FakeRevocations implements AccessTokenRevoker {
  readonly revoked: { jti: string; reason: string }[] = [];
  async revokeAccessTokens(tokens: readonly IssuedAccessTokenRef[], reason: string, now: Date): Promise<number> {
    const live = tokens.filter((t) => t.expiresAt.getTime() > now.getTime());
    for (const t of live) this.revoked.push({ jti: t.jti, reason });
    return live.length;
  }
}

export class FakeAudit implements AuditTrail {
  readonly events: AuditEvent[] = [];
  record(event: AuditEvent): void {
    this.events.push(event);
  }
}

/** Signs with a real ES256 key, so specs can read what a grant put into its access token. */
export class FakeSigner implements AccessTokenSigner {
  private constructor(
    private readonly pair: GeneratedKeyPair,
    private readonly key: SigningKey,
  ) {}
  static async create(): Promise<FakeSigner> {
    const pair = await generateSigningKey('ES256');
    return new FakeSigner(pair, await importPrivateJwk(pair.privateJwk, pair.alg));
  }
  async sign(payload: JWTPayload, typ: string): Promise<{ token: string; kid: string }> {
    return { token: await signJwt(payload, { alg: this.pair.alg, kid: this.pair.kid, typ }, this.key), kid: this.pair.kid };
  }
}

export function requestInfo(headers: Record<string, string | string[]> = {}): RequestInfo {
  return { method: 'POST', path: '/token', headers, ip: '203.0.113.7', requestId: 'req-1' };
}

/**
 * A jwks_uri without the network: each URI answers with what `serve` set (a JWK Set, a failure, or
 * a promise the spec resolves later); every fetch is counted.
 */
export class FakeJwksSource implements JwksSource {
  readonly fetches: string[] = [];
  private readonly answers = new Map<string, () => Promise<FetchedJwks>>();

  serve(uri: string, set: unknown, maxAgeSeconds?: number): void {
    this.answers.set(uri, async () => ({ set: await parsePublicJwkSet(set, { maxKeys: 20 }), maxAgeSeconds }));
  }
  fail(uri: string, failure: JwksFetchError['failure']): void {
    this.answers.set(uri, () => Promise.reject(new JwksFetchError(failure, `fake ${failure}`)));
  }
  /** The next fetches of `uri` wait until the returned function is called. */
  hold(uri: string): () => void {
    const answer = this.answers.get(uri);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    this.answers.set(uri, async () => {
      await gate;
      if (!answer) throw new JwksFetchError('network', 'nothing served');
      return answer();
    });
    return release;
  }
  async fetch(uri: string): Promise<FetchedJwks> {
    this.fetches.push(uri);
    const answer = this.answers.get(uri);
    if (!answer) throw new JwksFetchError('network', 'nothing served');
    return answer();
  }
}

/** ClientKeySets over a FakeJwksSource (or the given one), with the spec's clock. */
export function testKeySets(config: AppConfig, clock: Clock, metrics: TokenMetrics, source: JwksSource = new FakeJwksSource()): ClientKeySets {
  return new ClientKeySets(config, new RemoteKeySets(config, clock, source, metrics));
}

/** `pop_keys` in memory: per client, with expiry, as the SQL keeps them. */
export class FakePopKeys implements PopKeyLookup {
  readonly rows = new Map<string, { jwk: JWK; expiresAt: Date }>();
  find(clientId: string, kid: string, now: Date): Promise<JWK | undefined> {
    const row = this.rows.get(`${clientId}|${kid}`);
    return Promise.resolve(row && row.expiresAt > now ? row.jwk : undefined);
  }
  remember(clientId: string, kid: string, jwk: JWK, _now: Date, expiresAt: Date): Promise<void> {
    this.rows.set(`${clientId}|${kid}`, { jwk, expiresAt });
    return Promise.resolve();
  }
}

/** A PopBinder over the given resource servers (none: PoP tokens are off, as without POP_RESOURCE_SERVERS_FILE). */
export function testPopBinder(clock: Clock, servers: readonly PopResourceServer[] = [], keys: FakePopKeys = new FakePopKeys()): PopBinder {
  return new PopBinder(new PopResourceServerRegistry(servers), keys, clock);
}
