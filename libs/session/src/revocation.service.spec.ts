import type { Repository } from 'typeorm';
import { loadConfig } from '@fpa/config';
import type { AuditEvent, AuditService } from '@fpa/platform';
import { FixedClock } from '@fpa/oauth-core';
import { MemoryStore, StoreKeys } from '@fpa/store';
import { DeviceSessionCache } from './device-session-cache';
import type { DeviceSessionRepository } from './device-session.repository';
import type { IssuedAccessTokenRef, RefreshTokenService } from './refresh-token.service';
import { RevocationService } from './revocation.service';
import type { TokenRevocationEntity } from './token-revocation.entity';

const NOW = 1_800_000_000_000;
const at = (ms: number): Date => new Date(NOW + ms);

/** Ending a session and deny-listing access tokens, with the PostgreSQL writes faked (what is written, not how). */
describe('RevocationService', () => {
  let clockMs: number;
  let store: MemoryStore;
  let inserted: Partial<TokenRevocationEntity>[][];
  let sessionRevoked: string[];
  let familyTokens: IssuedAccessTokenRef[];
  let audit: AuditEvent[];
  let service: RevocationService;

  beforeEach(() => {
    clockMs = NOW;
    store = new MemoryStore(() => clockMs, { genesis: true });
    [inserted, sessionRevoked, familyTokens, audit] = [[], [], [], []];
    const builder = {
      insert: () => builder,
      into: () => builder,
      values: (rows: Partial<TokenRevocationEntity>[]) => (inserted.push(rows), builder),
      orIgnore: () => builder,
      execute: async () => ({}),
    };
    const repo = { createQueryBuilder: () => builder } as unknown as Repository<TokenRevocationEntity>;
    const sessions = { revoke: async (s: string) => (sessionRevoked.push(s), s === 'known') } as unknown as DeviceSessionRepository;
    const refreshTokens = { revokeSession: async () => familyTokens } as unknown as RefreshTokenService;
    const config = loadConfig('standalone', { ACCESS_TOKEN_TTL_SECONDS: '600', CLOCK_SKEW_SECONDS: '5' });
    service = new RevocationService(repo, store, config, sessions, refreshTokens, { record: (e: AuditEvent) => audit.push(e) } as unknown as AuditService, new DeviceSessionCache(config, new FixedClock(NOW), store, { find: async () => undefined }));
  });
  afterEach(async () => store.close());

  it('deny-lists only access tokens still alive, each in Redis for its remaining lifetime (+5 s)', async () => {
    await expect(service.revokeAccessTokens([{ jti: 'live', expiresAt: at(60_000) }, { jti: 'dead', expiresAt: at(0) }], 'reuse', at(0))).resolves.toBe(1);
    expect(inserted).toEqual([[{ jti: 'live', expiresAt: at(60_000), revokedAt: at(0), reason: 'reuse' }]]);
    clockMs = NOW + 64_000;
    await expect(store.anyFlagged([StoreKeys.revokedAccessToken('live')])).resolves.toBe(true);
    clockMs = NOW + 65_000;
    await expect(store.anyFlagged([StoreKeys.revokedAccessToken('live')])).resolves.toBe(false);
    await expect(store.anyFlagged([StoreKeys.revokedAccessToken('dead')])).resolves.toBe(false);
  });

  it('writes nothing when every token has expired', async () => {
    await expect(service.revokeAccessTokens([{ jti: 'dead', expiresAt: at(-1) }], 'reuse', at(0))).resolves.toBe(0);
    expect(inserted).toEqual([]);
  });

  it('revokeSession ends the session, its tokens, and flags the session for as long as any token of it can live', async () => {
    familyTokens = [{ jti: 'at-1', expiresAt: at(300_000) }];
    await expect(service.revokeSession('known', 'lost device', at(0))).resolves.toBe(true);
    expect(sessionRevoked).toEqual(['known']);
    expect(inserted).toEqual([[expect.objectContaining({ jti: 'at-1', reason: 'lost device' })]]);
    clockMs = NOW + (600 + 5 + 60) * 1000 - 1;
    await expect(store.anyFlagged([StoreKeys.revokedSession('known')])).resolves.toBe(true);
    clockMs += 1;
    await expect(store.anyFlagged([StoreKeys.revokedSession('known')])).resolves.toBe(false);
    expect(audit).toEqual([expect.objectContaining({ type: 'device_session.revoked', authSession: 'known', details: { reason: 'lost device', known: true, accessTokens: 1 } })]);
  });

  it('an unknown session is false, and still flagged (a token naming it is refused all the same)', async () => {
    await expect(service.revokeSession('unknown', 'typo?', at(0))).resolves.toBe(false);
    await expect(store.anyFlagged([StoreKeys.revokedSession('unknown')])).resolves.toBe(true);
  });
});
