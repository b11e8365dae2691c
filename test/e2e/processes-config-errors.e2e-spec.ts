import { appMain, randomSecret, runNode, storeUrls } from '@fpa/testing';

/** The built apps as real processes (CONTRACT §8): start-up configuration errors. */

// Processes start in seconds on a shared machine (the e2e project's testTimeout is not applied per project).
jest.setTimeout(60_000);

describe('configuration errors stop the process naming the variable, never echoing secrets', () => {
  const valid = (): Record<string, string> => ({
    APP_MODE: 'production',
    DATABASE_URL: 'postgres://fpa@127.0.0.1:5432/fpa',
    REDIS_URL: storeUrls().redisUrl,
    KEY_ENCRYPTION_KEY: randomSecret(),
    DPOP_NONCE_SECRET: randomSecret(),
    HOST: '127.0.0.1',
    ISSUER: 'http://127.0.0.1:3000',
  });

  it('PORT=abc → exit 1 naming PORT', async () => {
    const res = await runNode(appMain('token'), [], { ...valid(), PORT: 'abc' }, { timeoutMs: 30_000 });
    expect(res.code).toBe(1);
    expect(res.output).toMatch(/PORT: must be an integer/);
    expect(res.output).not.toMatch(/KEY_ENCRYPTION_KEY|DATABASE_URL|REDIS_URL/);
  });

  it('APP_MODE=production without KEY_ENCRYPTION_KEY → exit 1 naming KEY_ENCRYPTION_KEY', async () => {
    const env = valid();
    delete env.KEY_ENCRYPTION_KEY;
    const res = await runNode(appMain('token'), [], { ...env, PORT: '0' }, { timeoutMs: 30_000 });
    expect(res.code).toBe(1);
    expect(res.output).toMatch(/KEY_ENCRYPTION_KEY: is required when APP_MODE=production/);
  });

  it('bad secret values are named but not echoed', async () => {
    const res = await runNode(appMain('token'), [], {
      ...valid(),
      PORT: '0',
      DATABASE_URL: 'postgres://fpa:Sup3rS3cretDbPassw0rd@127.0.0.1:notaport/fpa',
      REDIS_URL: 'mysql://root:An0therRedisS3cret@127.0.0.1/0',
      KEY_ENCRYPTION_KEY: 'c2hvcnRLZWtTZWNyZXRWYWx1ZQ',
    }, { timeoutMs: 30_000 });
    expect(res.code).toBe(1);
    expect(res.output).toMatch(/DATABASE_URL/);
    expect(res.output).toMatch(/REDIS_URL/);
    expect(res.output).toMatch(/KEY_ENCRYPTION_KEY: must decode to exactly 32 bytes/);
    for (const s of ['Sup3rS3cretDbPassw0rd', 'An0therRedisS3cret', 'c2hvcnRLZWtTZWNyZXRWYWx1ZQ']) expect(res.output).not.toContain(s);
  });
});
