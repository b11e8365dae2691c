import { loadConfig } from '@fpa/config';
import type { AuthorizationServerMetadata } from '@fpa/grants';
import { FixedClock } from '@fpa/oauth-core';
import { EntityConfigurationService } from './entity-configuration.service';
import type { FederationEntityKeys } from './federation-entity-keys.service';

describe('EntityConfigurationService (OpenID Federation 1.0 §3.1, CONTRACT §1)', () => {
  const jwks = { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'k1', alg: 'ES256', use: 'sig' }] };
  const asMetadata = { document: () => ({ issuer: 'https://auth.example.com', token_endpoint: 'https://auth.example.com/token' }) } as unknown as AuthorizationServerMetadata;
  const setup = (env: Record<string, string> = {}) => {
    const config = loadConfig('federation', { APP_MODE: 'production', ISSUER: 'https://auth.example.com', DATABASE_URL: 'postgres://db/x', REDIS_URL: 'redis://r', KEY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64url'), DPOP_NONCE_SECRET: Buffer.alloc(32, 1).toString('base64url'), ...env });
    const clock = new FixedClock(1_800_000_000_000);
    const signed: { payload: Record<string, unknown>; typ: string }[] = [];
    const keys = { jwks: () => jwks, sign: async (payload: Record<string, unknown>, typ: string) => (signed.push({ payload, typ }), `jwt-${signed.length}`) } as unknown as FederationEntityKeys;
    return { service: new EntityConfigurationService(config, clock, keys, asMetadata), clock, signed };
  };

  it('claims: iss = sub = issuer, iat/exp, jwks, metadata with the RFC 8414 document and federation_entity; typ entity-statement+jwt', async () => {
    const { service, clock, signed } = setup({ OPENID_FEDERATION_AUTHORITY_HINTS: 'https://ta.example.org', OPENID_FEDERATION_ORGANIZATION_NAME: 'Example' });
    await service.current();
    const now = clock.nowSeconds();
    expect(signed).toEqual([
      {
        typ: 'entity-statement+jwt',
        payload: {
          iss: 'https://auth.example.com',
          sub: 'https://auth.example.com',
          iat: now,
          exp: now + 86_400,
          jwks,
          authority_hints: ['https://ta.example.org'],
          metadata: { oauth_authorization_server: asMetadata.document(), federation_entity: { organization_name: 'Example' } },
        },
      },
    ]);
  });

  it('leaves authority_hints out when none is configured (§3.1.1: never empty)', () => {
    expect(setup().service.claims(0)).not.toHaveProperty('authority_hints');
  });

  it('reuses a signed configuration for at most five minutes (or half its lifetime), then signs a fresh one', async () => {
    const { service, clock, signed } = setup();
    expect(service.reuseSeconds).toBe(300);
    expect(await service.current()).toBe('jwt-1');
    clock.advance(299);
    expect(await service.current()).toBe('jwt-1');
    clock.advance(1);
    expect(await service.current()).toBe('jwt-2');
    expect(signed[1].payload.iat).toBe(clock.nowSeconds());
    expect(setup({ OPENID_FEDERATION_STATEMENT_TTL_SECONDS: '120' }).service.reuseSeconds).toBe(60);
  });
});
