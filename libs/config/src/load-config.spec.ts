import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withEnvTable } from '../../../tools/docs/env-table';
import { ConfigError, ENV_VARS, loadConfig } from './index';

const KEY = Buffer.alloc(32, 1).toString('base64url');
const production = {
  APP_MODE: 'production',
  DATABASE_URL: 'postgres://u:hunter2@db.internal:5432/auth',
  REDIS_URL: 'redis://cache:6379',
  KEY_ENCRYPTION_KEY: KEY,
  DPOP_NONCE_SECRET: KEY,
  ISSUER: 'https://auth.example.com',
};

const problemsOf = (app: Parameters<typeof loadConfig>[0], env: NodeJS.ProcessEnv): string[] => {
  try {
    loadConfig(app, env);
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  return [];
};

describe('loadConfig (CONTRACT §8)', () => {
  it('defaults PORT to 3000 and ISSUER to http://localhost:<PORT>', () => {
    const c = loadConfig('standalone', {});
    expect(c.mode).toBe('embedded');
    expect(c.http.port).toBe(3000);
    expect(c.http.issuer).toBe('http://localhost:3000');
    expect(loadConfig('standalone', { PORT: '8080' }).http.issuer).toBe('http://localhost:8080');
    expect(c.tokens.defaultAudience).toBe('http://localhost:3000/resources');
  });

  it('embedded default: digital_credential enabled and <DATA_DIR>/trust-anchors watched; production trusts no credential issuer unless told (issue 11 §5)', () => {
    const embedded = loadConfig('standalone', { DATA_DIR: '/tmp/fpa-x' });
    expect(embedded.challenge.methods).toEqual(['email_otp', 'sms_otp', 'totp', 'passkey', 'digital_credential']);
    expect(embedded.digitalCredentials).toMatchObject({ trustAnchors: join('/tmp/fpa-x', 'trust-anchors'), trustAnchorsWatched: true });
    // An explicit choice wins in embedded mode too: the listed methods only, configured anchors loaded once.
    const chosen = loadConfig('standalone', { CHALLENGE_METHODS: 'email_otp', DIGITAL_CREDENTIALS_TRUST_ANCHORS: '/etc/fpa/roots' });
    expect(chosen.challenge.methods).toEqual(['email_otp']);
    expect(chosen.digitalCredentials).toMatchObject({ trustAnchors: '/etc/fpa/roots', trustAnchorsWatched: false });
    const prod = loadConfig('challenge', { ...production, SMTP_URL: 'smtp://mail.internal', SMS_PROVIDER_URL: 'https://sms.example' });
    expect(prod.challenge.methods).toEqual(['email_otp', 'sms_otp', 'totp', 'passkey']);
    expect(prod.challenge.methods).not.toContain('digital_credential');
    expect(prod.digitalCredentials).toMatchObject({ trustAnchors: undefined, trustAnchorsWatched: false });
  });

  it('accepts a complete production environment and strips a trailing slash from ISSUER', () => {
    const c = loadConfig('token', { ...production, ISSUER: 'https://auth.example.com/' });
    expect(c.http.issuer).toBe('https://auth.example.com');
    expect(c.keys.encryptionKey).toHaveLength(32);
    expect(c.db.runMigrations).toBe(false);
  });

  it('names every bad variable at once', () => {
    const problems = problemsOf('token', { ...production, PORT: 'abc', SIGNING_ALG: 'HS256', DPOP_ALGS: 'ES256,none', ACCESS_TOKEN_TTL_SECONDS: '5' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['ACCESS_TOKEN_TTL_SECONDS', 'DPOP_ALGS', 'PORT', 'SIGNING_ALG']);
  });

  it('production needs the stores and secrets; embedded mode is only for the standalone app', () => {
    const problems = problemsOf('token', { APP_MODE: 'production', ISSUER: 'https://a.example' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['DATABASE_URL', 'DPOP_NONCE_SECRET', 'KEY_ENCRYPTION_KEY', 'REDIS_URL']);
    expect(problemsOf('token', { APP_MODE: 'embedded' }).join()).toMatch(/APP_MODE: embedded mode is only for the standalone app/);
    expect(loadConfig('token', production).mode).toBe('production');
  });

  it('refuses a non-https issuer outside localhost in production, and issuers with query or fragment (META-2)', () => {
    expect(problemsOf('token', { ...production, ISSUER: 'http://auth.example.com' }).join()).toMatch(/ISSUER: must be an https URL/);
    expect(problemsOf('token', { ...production, ISSUER: 'https://auth.example.com?x=1' }).join()).toMatch(/ISSUER: must not have a query/);
    expect(loadConfig('token', { ...production, ISSUER: 'http://127.0.0.1:3000' }).http.issuer).toBe('http://127.0.0.1:3000');
  });

  it('DATABASE_SSL_CA reads a PEM bundle and turns TLS on; an unreadable or non-PEM file stops start-up', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fpa-ca-'));
    const pem = join(dir, 'ca.pem');
    writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const c = loadConfig('token', { ...production, DATABASE_SSL_CA: pem });
    expect(c.db).toMatchObject({ ssl: true, sslCa: expect.stringContaining('BEGIN CERTIFICATE') });
    writeFileSync(join(dir, 'bad.pem'), 'nope');
    expect(problemsOf('token', { ...production, DATABASE_SSL_CA: join(dir, 'bad.pem') }).join()).toMatch(/DATABASE_SSL_CA: .*no PEM/);
    expect(problemsOf('token', { ...production, DATABASE_SSL_CA: join(dir, 'missing.pem') }).join()).toMatch(/DATABASE_SSL_CA: cannot read/);
  });

  it('send budgets: hourly per client and global per channel; a client budget above the global one is refused', () => {
    expect(loadConfig('token', production).messaging.sendBudget).toEqual({ email: { perClient: 5000, global: 10000 }, sms: { perClient: 500, global: 1000 } });
    const c = loadConfig('token', { ...production, SEND_BUDGET_SMS_PER_CLIENT: '3', SEND_BUDGET_SMS_GLOBAL: '5' });
    expect(c.messaging.sendBudget.sms).toEqual({ perClient: 3, global: 5 });
    const problems = problemsOf('token', { ...production, SEND_BUDGET_SMS_PER_CLIENT: '10', SEND_BUDGET_SMS_GLOBAL: '5', SEND_BUDGET_EMAIL_GLOBAL: '0' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['SEND_BUDGET_EMAIL_GLOBAL', 'SEND_BUDGET_SMS_PER_CLIENT']);
  });

  it('never echoes secret values', () => {
    const problems = problemsOf('token', { ...production, DATABASE_URL: 'mysql://u:hunter2@db/x', KEY_ENCRYPTION_KEY: 'c2hvcnQ' }).join('\n');
    expect(problems).toMatch(/DATABASE_URL/);
    expect(problems).toMatch(/KEY_ENCRYPTION_KEY: must decode to exactly 32 bytes/);
    expect(problems).not.toContain('hunter2');
    expect(problems).not.toContain('c2hvcnQ');
  });

  it('JWTCA-9: client assertions are strict about their audience unless ASSERTION_STRICT_AUDIENCE=false', () => {
    expect(loadConfig('token', production).assertions.strictAudience).toBe(true);
    expect(loadConfig('token', { ...production, ASSERTION_STRICT_AUDIENCE: 'false' }).assertions.strictAudience).toBe(false);
    expect(problemsOf('token', { ...production, ASSERTION_STRICT_AUDIENCE: 'lenient' }).join()).toMatch(/ASSERTION_STRICT_AUDIENCE: must be true or false/);
  });

  it('client key sets (private_key_jwt): bounded fetches and lifetimes; http loopback jwks_uri only outside production', () => {
    expect(loadConfig('token', production).clientJwks).toEqual({
      cacheSeconds: 300,
      minCacheSeconds: 60,
      maxCacheSeconds: 86_400,
      cooldownSeconds: 30,
      staleGraceSeconds: 600,
      fetchTimeoutMs: 3000,
      maxBytes: 65_536,
      maxKeys: 20,
      allowHttpLoopback: false,
    });
    expect(loadConfig('standalone', { ISSUER: 'http://localhost:3000' }).clientJwks.allowHttpLoopback).toBe(true);
    expect(problemsOf('token', { ...production, CLIENT_JWKS_CACHE_MIN_SECONDS: '600', CLIENT_JWKS_CACHE_MAX_SECONDS: '300' }).join()).toMatch(/CLIENT_JWKS_CACHE_MIN_SECONDS: must not exceed/);
    expect(problemsOf('token', { ...production, CLIENT_JWKS_CACHE_SECONDS: '10' }).join()).toMatch(/CLIENT_JWKS_CACHE_SECONDS: must lie between/);
    expect(problemsOf('token', { ...production, CLIENT_JWKS_MAX_BYTES: '100', CLIENT_JWKS_FETCH_TIMEOUT_MS: '0' }).join()).toMatch(/CLIENT_JWKS_FETCH_TIMEOUT_MS: must be between 100.*CLIENT_JWKS_MAX_BYTES: must be between 1024/);
  });

  it('AUTH_JWKS_CACHE_SECONDS: 60 by default, 1–3600 accepted, anything else stops start-up', () => {
    expect(loadConfig('sample-api', production).resourceServer.jwksCacheSeconds).toBe(60);
    expect(loadConfig('sample-api', { ...production, AUTH_JWKS_CACHE_SECONDS: '5' }).resourceServer.jwksCacheSeconds).toBe(5);
    expect(problemsOf('sample-api', { ...production, AUTH_JWKS_CACHE_SECONDS: '0' }).join()).toMatch(/AUTH_JWKS_CACHE_SECONDS: must be between 1 and 3600/);
    expect(problemsOf('sample-api', { ...production, AUTH_JWKS_CACHE_SECONDS: '1m' }).join()).toMatch(/AUTH_JWKS_CACHE_SECONDS: must be an integer/);
  });

  it('OPENID_FEDERATION_*: off by default; anchors are https entity ids with keys; loopback http only when allowed (issue 10, FED-4)', () => {
    const off = loadConfig('federation', production).openidFederation;
    expect(off).toMatchObject({ trustAnchors: [], authorityHints: [], statementTtlSeconds: 86_400, maxChainLength: 5, maxAuthorityHints: 4, maxFetches: 24, allowHttpLoopback: false });
    const jwks = { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }] };
    const on = loadConfig('federation', {
      ...production,
      OPENID_FEDERATION_TRUST_ANCHORS: JSON.stringify([{ entity_id: 'https://ta.example.org', jwks }]),
      OPENID_FEDERATION_AUTHORITY_HINTS: 'https://int.example.org, https://ta.example.org',
    }).openidFederation;
    expect(on.trustAnchors).toEqual([{ entityId: 'https://ta.example.org', jwks }]);
    expect(on.authorityHints).toEqual(['https://int.example.org', 'https://ta.example.org']);
    expect(problemsOf('federation', { ...production, OPENID_FEDERATION_TRUST_ANCHORS: '{"entity_id":"x"}' }).join()).toMatch(/OPENID_FEDERATION_TRUST_ANCHORS: must be a JSON array/);
    expect(problemsOf('federation', { ...production, OPENID_FEDERATION_TRUST_ANCHORS: '[{"entity_id":"https://ta.example.org"}]' }).join()).toMatch(/entry 0 must have .* "jwks"/);
    const loopbackAnchor = JSON.stringify([{ entity_id: 'http://127.0.0.1:4000', jwks }]);
    expect(problemsOf('federation', { ...production, OPENID_FEDERATION_TRUST_ANCHORS: loopbackAnchor }).join()).toMatch(/OPENID_FEDERATION_TRUST_ANCHORS: "http:\/\/127.0.0.1:4000" must be an https URL/);
    expect(problemsOf('federation', { ...production, OPENID_FEDERATION_TRUST_ANCHORS: loopbackAnchor, OPENID_FEDERATION_ALLOW_HTTP_LOOPBACK: 'true' })).toEqual([]);
    expect(problemsOf('federation', { ...production, OPENID_FEDERATION_AUTHORITY_HINTS: 'https://a.example?x=1' }).join()).toMatch(/OPENID_FEDERATION_AUTHORITY_HINTS: .* must not have a query/);
  });

  it('DIGITAL_CREDENTIALS_METADATA_ISSUERS: https issuer ids; http loopback fetches only outside production (issue 11)', () => {
    expect(loadConfig('token', production).digitalCredentials).toMatchObject({ metadataIssuers: [], allowHttpLoopback: false });
    const on = loadConfig('token', { ...production, DIGITAL_CREDENTIALS_METADATA_ISSUERS: 'https://pid.example/issuer, https://b.example,https://b.example' }).digitalCredentials;
    expect(on.metadataIssuers).toEqual(['https://pid.example/issuer', 'https://b.example']);
    expect(problemsOf('token', { ...production, DIGITAL_CREDENTIALS_METADATA_ISSUERS: 'http://issuer.example' }).join()).toMatch(/DIGITAL_CREDENTIALS_METADATA_ISSUERS: "http:\/\/issuer.example" must be an https URL/);
    expect(problemsOf('token', { ...production, DIGITAL_CREDENTIALS_METADATA_ISSUERS: 'https://a.example#x' }).join()).toMatch(/must not have a query or fragment/);
    // Production refuses the loopback switch outright, and with it loopback http issuers.
    const loopback = { DIGITAL_CREDENTIALS_METADATA_ISSUERS: 'http://127.0.0.1:4000', DIGITAL_CREDENTIALS_ALLOW_HTTP_LOOPBACK: 'true' };
    const refused = problemsOf('token', { ...production, ...loopback }).join();
    expect(refused).toMatch(/DIGITAL_CREDENTIALS_ALLOW_HTTP_LOOPBACK: must not be true when APP_MODE=production/);
    expect(refused).toMatch(/DIGITAL_CREDENTIALS_METADATA_ISSUERS: "http:\/\/127.0.0.1:4000" must be an https URL/);
    expect(loadConfig('standalone', loopback).digitalCredentials).toMatchObject({ metadataIssuers: ['http://127.0.0.1:4000'], allowHttpLoopback: true });
    expect(problemsOf('standalone', { DIGITAL_CREDENTIALS_METADATA_ISSUERS: 'http://127.0.0.1:4000' }).join()).toMatch(/must be an https URL/);
    expect(problemsOf('standalone', { DIGITAL_CREDENTIALS_ALLOW_HTTP_LOOPBACK: 'yes' }).join()).toMatch(/DIGITAL_CREDENTIALS_ALLOW_HTTP_LOOPBACK: must be true or false/);
  });

  it('the README documents every environment variable', () => {
    const readme = readFileSync(join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
    const missing = Object.keys(ENV_VARS).filter((name) => !readme.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });

  it('the README configuration table is exactly the one ENV_VARS generates (npm run docs:env)', () => {
    const readme = readFileSync(join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
    expect(withEnvTable(readme)).toBe(readme);
  });
});
