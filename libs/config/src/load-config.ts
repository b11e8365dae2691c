import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppConfig, AppMode, SigningAlg } from './app-config';
import { ENV_VARS, type AppName, type EnvVarName } from './env-vars';
import { entityIdProblem, parseIssuer, parseTrustAnchors, parseTrustProxy, safeUrl } from './config-values';

export type * from './app-config';
export { entityIdProblem } from './config-values';

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const KNOWN_DPOP_ALGS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512'];

/**
 * Reads and validates the environment once. Every problem is collected so one start-up attempt
 * names every bad variable; secret values are never echoed.
 */
export function loadConfig(app: AppName, env: NodeJS.ProcessEnv = process.env): AppConfig {
  const problems: string[] = [];
  const raw = (name: EnvVarName): string | undefined => {
    const v = env[name];
    if (v !== undefined && v.trim() !== '') return v.trim();
    const spec = ENV_VARS[name] as { default?: string };
    return spec.default;
  };
  const fail = (name: EnvVarName, why: string): undefined => {
    problems.push(`${name}: ${why}`);
    return undefined;
  };

  const int = (name: EnvVarName, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const v = raw(name);
    if (v === undefined) return fail(name, 'is required') ?? 0;
    if (!/^\d+$/.test(v)) return fail(name, `must be an integer, got "${v}"`) ?? 0;
    const n = Number(v);
    if (n < min || n > max) return fail(name, `must be between ${min} and ${max}, got ${n}`) ?? 0;
    return n;
  };
  const bool = (name: EnvVarName): boolean => {
    const v = raw(name);
    if (v === undefined) return false;
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    return fail(name, `must be true or false, got "${v}"`) ?? false;
  };
  const secretBytes = (name: EnvVarName, minBytes: number, exact?: number): Uint8Array | undefined => {
    const v = raw(name);
    if (v === undefined) return undefined;
    if (!/^[A-Za-z0-9_-]+$/.test(v)) return fail(name, 'must be base64url (no padding)');
    const bytes = Buffer.from(v, 'base64url');
    if (exact !== undefined && bytes.length !== exact) return fail(name, `must decode to exactly ${exact} bytes, got ${bytes.length}`);
    if (bytes.length < minBytes) return fail(name, `must decode to at least ${minBytes} bytes, got ${bytes.length}`);
    return new Uint8Array(bytes);
  };
  const url = (name: EnvVarName, value: string | undefined, protocols: string[]): string | undefined => {
    if (value === undefined) return undefined;
    try {
      const u = new URL(value);
      if (!protocols.includes(u.protocol)) return fail(name, `must use ${protocols.join(' or ')}`);
      return value;
    } catch {
      return fail(name, (ENV_VARS[name] as { secret?: boolean }).secret ? 'is not a valid URL' : `is not a valid URL: "${value}"`);
    }
  };

  // --- mode ---------------------------------------------------------------------------------
  // The standalone app defaults to the embedded default; the CLI follows the store it is pointed at.
  const modeRaw = raw('APP_MODE') ?? (app === 'standalone' || (app === 'cli' && raw('DATABASE_URL') === undefined) ? 'embedded' : 'production');
  let mode: AppMode = 'production';
  if (modeRaw === 'production' || modeRaw === 'embedded') mode = modeRaw;
  else fail('APP_MODE', `must be production or embedded, got "${modeRaw}"`);
  if (mode === 'embedded' && app !== 'standalone' && app !== 'cli') {
    fail('APP_MODE', `embedded mode is only for the standalone app (this is ${app})`);
  }

  // --- http ---------------------------------------------------------------------------------
  const port = int('PORT', 0, 65535);
  const host = raw('HOST') ?? '0.0.0.0';
  const issuer = parseIssuer(raw('ISSUER') ?? `http://localhost:${port}`, mode, (why) => fail('ISSUER', why));
  const trustProxy = parseTrustProxy(raw('TRUST_PROXY') ?? 'loopback');
  const level = raw('LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(level)) fail('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);

  // --- stores -------------------------------------------------------------------------------
  const dbUrl = url('DATABASE_URL', raw('DATABASE_URL'), ['postgres:', 'postgresql:']);
  const redisUrl = url('REDIS_URL', raw('REDIS_URL'), ['redis:', 'rediss:']);
  const sslCaPath = raw('DATABASE_SSL_CA');
  let sslCa: string | undefined;
  if (sslCaPath !== undefined) {
    try {
      sslCa = readFileSync(sslCaPath, 'utf8');
      if (!sslCa.includes('-----BEGIN CERTIFICATE-----')) fail('DATABASE_SSL_CA', `${sslCaPath} holds no PEM certificate`);
    } catch {
      fail('DATABASE_SSL_CA', `cannot read ${sslCaPath}`);
    }
  }
  const migrationsRaw = raw('MIGRATIONS_RUN');
  const runMigrations = migrationsRaw === undefined ? mode === 'embedded' : bool('MIGRATIONS_RUN');

  // --- secrets ------------------------------------------------------------------------------
  const encryptionKey = secretBytes('KEY_ENCRYPTION_KEY', 32, 32);
  const nonceSecret = secretBytes('DPOP_NONCE_SECRET', 32);
  if (mode === 'production') {
    for (const name of Object.keys(ENV_VARS) as EnvVarName[]) {
      const spec = ENV_VARS[name] as { required?: string };
      if (spec.required === 'production' && raw(name) === undefined && appNeeds(app, name)) {
        fail(name, 'is required when APP_MODE=production');
      }
    }
  }

  const signingAlg = raw('SIGNING_ALG') as SigningAlg;
  if (signingAlg !== 'ES256' && signingAlg !== 'RS256') fail('SIGNING_ALG', 'must be ES256 or RS256');

  const algs = (raw('DPOP_ALGS') ?? '').split(',').map((a) => a.trim()).filter(Boolean);
  const unknownAlg = algs.find((a) => !KNOWN_DPOP_ALGS.includes(a));
  if (unknownAlg) fail('DPOP_ALGS', `unsupported algorithm "${unknownAlg}" (asymmetric JWS algorithms only)`);
  if (algs.length === 0) fail('DPOP_ALGS', 'must list at least one algorithm');

  const clientsFile = raw('CLIENTS_FILE');
  const defaultAudience = url('DEFAULT_AUDIENCE', raw('DEFAULT_AUDIENCE'), ['https:', 'http:']) ?? `${issuer}/resources`;
  const authIssuer = raw('AUTH_ISSUER') ?? issuer;

  // The embedded default also offers the wallet login (issue 11 §5, `npm run demo -- --wallet`); production enables
  // it only when asked, since it needs a configured verifier key and certificate there.
  const methodsSet = (env.CHALLENGE_METHODS ?? '').trim() !== '';
  const methodsRaw = methodsSet || mode !== 'embedded' ? raw('CHALLENGE_METHODS') : `${raw('CHALLENGE_METHODS')},digital_credential`;
  const methods = (methodsRaw ?? '').split(',').map((m) => m.trim()).filter(Boolean);
  const badMethod = methods.find((m) => !/^[a-z][a-z0-9_]{0,39}$/.test(m));
  if (badMethod) fail('CHALLENGE_METHODS', `"${badMethod}" is not a method id`);
  const smtpUrl = url('SMTP_URL', raw('SMTP_URL'), ['smtp:', 'smtps:']);
  const smsUrl = url('SMS_PROVIDER_URL', raw('SMS_PROVIDER_URL'), ['https:', 'http:']);
  const smsBodyTemplate = raw('SMS_PROVIDER_BODY') ?? '';
  try {
    JSON.parse(smsBodyTemplate.replace(/\{\{(to|message)\}\}/g, 'x'));
  } catch {
    fail('SMS_PROVIDER_BODY', 'must be a JSON template');
  }
  // Production sends real messages: a method without its transport stops start-up.
  if (mode === 'production' && (app === 'challenge' || app === 'standalone')) {
    if (methods.includes('email_otp') && !smtpUrl) fail('SMTP_URL', 'is required when email_otp is enabled in production');
    if (methods.includes('sms_otp') && !smsUrl) fail('SMS_PROVIDER_URL', 'is required when sms_otp is enabled in production');
  }
  const sendBudget = {
    email: { perClient: int('SEND_BUDGET_EMAIL_PER_CLIENT', 1, 10_000_000), global: int('SEND_BUDGET_EMAIL_GLOBAL', 1, 10_000_000) },
    sms: { perClient: int('SEND_BUDGET_SMS_PER_CLIENT', 1, 10_000_000), global: int('SEND_BUDGET_SMS_GLOBAL', 1, 10_000_000) },
  };
  // A client budget above the global one could never apply: most likely the two were swapped.
  if (sendBudget.email.global > 0 && sendBudget.email.perClient > sendBudget.email.global) fail('SEND_BUDGET_EMAIL_PER_CLIENT', 'must not exceed SEND_BUDGET_EMAIL_GLOBAL');
  if (sendBudget.sms.global > 0 && sendBudget.sms.perClient > sendBudget.sms.global) fail('SEND_BUDGET_SMS_PER_CLIENT', 'must not exceed SEND_BUDGET_SMS_GLOBAL');
  const issuerUrl = safeUrl(issuer);
  const clientJwks = {
    cacheSeconds: int('CLIENT_JWKS_CACHE_SECONDS', 1, 604_800),
    minCacheSeconds: int('CLIENT_JWKS_CACHE_MIN_SECONDS', 1, 86_400),
    maxCacheSeconds: int('CLIENT_JWKS_CACHE_MAX_SECONDS', 1, 604_800),
    cooldownSeconds: int('CLIENT_JWKS_REFETCH_COOLDOWN_SECONDS', 1, 3600),
    staleGraceSeconds: int('CLIENT_JWKS_STALE_GRACE_SECONDS', 0, 86_400),
    fetchTimeoutMs: int('CLIENT_JWKS_FETCH_TIMEOUT_MS', 100, 30_000),
    maxBytes: int('CLIENT_JWKS_MAX_BYTES', 1024, 1_048_576),
    maxKeys: int('CLIENT_JWKS_MAX_KEYS', 1, 100),
    allowHttpLoopback: mode !== 'production',
  };
  if (clientJwks.minCacheSeconds > clientJwks.maxCacheSeconds) fail('CLIENT_JWKS_CACHE_MIN_SECONDS', 'must not exceed CLIENT_JWKS_CACHE_MAX_SECONDS');
  else if (clientJwks.cacheSeconds < clientJwks.minCacheSeconds || clientJwks.cacheSeconds > clientJwks.maxCacheSeconds) {
    fail('CLIENT_JWKS_CACHE_SECONDS', 'must lie between CLIENT_JWKS_CACHE_MIN_SECONDS and CLIENT_JWKS_CACHE_MAX_SECONDS');
  }
  const federationLoopback = bool('OPENID_FEDERATION_ALLOW_HTTP_LOOPBACK');
  const entityId = (name: EnvVarName, value: string): string | undefined => {
    const why = entityIdProblem(value, federationLoopback);
    return why ? fail(name, `"${value}" ${why}`) : value;
  };
  const openidFederation = {
    trustAnchors: parseTrustAnchors(raw('OPENID_FEDERATION_TRUST_ANCHORS'), (why) => fail('OPENID_FEDERATION_TRUST_ANCHORS', why), (v) => entityId('OPENID_FEDERATION_TRUST_ANCHORS', v)),
    authorityHints: (raw('OPENID_FEDERATION_AUTHORITY_HINTS') ?? '')
      .split(',')
      .map((h) => h.trim())
      .filter(Boolean)
      .filter((h) => entityId('OPENID_FEDERATION_AUTHORITY_HINTS', h) !== undefined),
    organizationName: raw('OPENID_FEDERATION_ORGANIZATION_NAME'),
    statementTtlSeconds: int('OPENID_FEDERATION_STATEMENT_TTL_SECONDS', 60, 31_536_000),
    maxChainLength: int('OPENID_FEDERATION_MAX_CHAIN_LENGTH', 1, 10),
    maxAuthorityHints: int('OPENID_FEDERATION_MAX_AUTHORITY_HINTS', 1, 20),
    maxFetches: int('OPENID_FEDERATION_MAX_FETCHES', 2, 200),
    fetchTimeoutMs: int('OPENID_FEDERATION_FETCH_TIMEOUT_MS', 100, 30_000),
    resolveTimeoutMs: int('OPENID_FEDERATION_RESOLVE_TIMEOUT_MS', 100, 120_000),
    maxResponseBytes: int('OPENID_FEDERATION_MAX_RESPONSE_BYTES', 1024, 1_048_576),
    chainCacheSeconds: int('OPENID_FEDERATION_CHAIN_CACHE_SECONDS', 0, 86_400),
    allowHttpLoopback: federationLoopback,
  };
  // Issue 11: credential status and issuer metadata are fetched from URLs; plain http only on loopback, never in production.
  const dcLoopback = bool('DIGITAL_CREDENTIALS_ALLOW_HTTP_LOOPBACK');
  if (dcLoopback && mode === 'production') fail('DIGITAL_CREDENTIALS_ALLOW_HTTP_LOOPBACK', 'must not be true when APP_MODE=production');
  const metadataIssuers = (raw('DIGITAL_CREDENTIALS_METADATA_ISSUERS') ?? '')
    .split(',')
    .map((i) => i.trim())
    .filter(Boolean);
  for (const iss of metadataIssuers) {
    // The metadata URL is derived from iss (SD-JWT VC draft §5.1): the same rules as an entity id.
    const why = entityIdProblem(iss, dcLoopback && mode !== 'production');
    if (why) fail('DIGITAL_CREDENTIALS_METADATA_ISSUERS', `"${iss}" ${why}`);
  }
  const origins = (raw('WEBAUTHN_ORIGINS') ?? issuerUrl?.origin ?? '').split(',').map((o) => o.trim()).filter(Boolean);

  const config: AppConfig = {
    app,
    mode,
    http: { port, host, issuer, trustProxy, shutdownGraceMs: int('SHUTDOWN_GRACE_MS', 0, 600_000) },
    log: { level },
    db: { url: dbUrl, poolSize: int('DATABASE_POOL_SIZE', 1, 500), ssl: bool('DATABASE_SSL') || sslCa !== undefined, sslCa, runMigrations },
    redis: { url: redisUrl, keyPrefix: raw('REDIS_KEY_PREFIX') ?? 'fpa:' },
    dataDir: raw('DATA_DIR') ?? '.data',
    keys: {
      encryptionKey,
      signingAlg,
      publishLeadSeconds: int('KEY_PUBLISH_LEAD_SECONDS', 0, 86_400),
      refreshSeconds: int('KEY_REFRESH_SECONDS', 1, 3600),
    },
    dpop: {
      nonceSecret,
      nonceWindowSeconds: int('DPOP_NONCE_WINDOW_SECONDS', 5, 3600),
      proofMaxAgeSeconds: int('DPOP_PROOF_MAX_AGE_SECONDS', 5, 3600),
      algs,
    },
    clockSkewSeconds: int('CLOCK_SKEW_SECONDS', 0, 300),
    tokens: {
      accessTokenTtl: int('ACCESS_TOKEN_TTL_SECONDS', 30, 86_400),
      refreshTokenTtl: int('REFRESH_TOKEN_TTL_SECONDS', 60, 31_536_000),
      deviceSessionTtl: int('DEVICE_SESSION_TTL_SECONDS', 60, 31_536_000),
      deviceSessionCacheSeconds: int('DEVICE_SESSION_CACHE_SECONDS', 0, 300),
      fpTokenTtl: int('FP_TOKEN_TTL_SECONDS', 30, 31_536_000),
      defaultAudience,
    },
    assertions: {
      strictAudience: bool('ASSERTION_STRICT_AUDIENCE'),
      maxLifetimeSeconds: int('ASSERTION_MAX_LIFETIME_SECONDS', 10, 3600),
    },
    clientJwks,
    registration: {
      rateLimit: int('REGISTRATION_RATE_LIMIT', 1, 10_000_000),
      rateWindowSeconds: int('REGISTRATION_RATE_WINDOW_SECONDS', 1, 86_400),
    },
    clientsFile,
    challenge: {
      methods,
      otpTtlSeconds: int('OTP_TTL_SECONDS', 30, 3600),
      otpLength: int('OTP_LENGTH', 6, 10),
      maxAttempts: int('CHALLENGE_MAX_ATTEMPTS', 1, 20),
      flowTtlSeconds: int('CHALLENGE_FLOW_TTL_SECONDS', 60, 86_400),
      sessionTtlSeconds: int('CHALLENGE_SESSION_TTL_SECONDS', 60, 86_400),
      rateLimitSession: int('CHALLENGE_RATE_LIMIT_SESSION', 1, 10_000_000),
      rateLimitIp: int('CHALLENGE_RATE_LIMIT_IP', 1, 10_000_000),
      rateLimitDestination: int('CHALLENGE_RATE_LIMIT_DESTINATION', 1, 10_000_000),
      resendSeconds: int('CHALLENGE_RESEND_SECONDS', 0, 3600),
      codeTtlSeconds: int('AUTHORIZATION_CODE_TTL_SECONDS', 10, 600),
      lockout: {
        threshold: int('AUTH_LOCKOUT_THRESHOLD', 1, 1000),
        baseLockSeconds: int('AUTH_LOCKOUT_SECONDS', 1, 86_400),
        maxLockSeconds: int('AUTH_LOCKOUT_MAX_SECONDS', 1, 2_592_000),
        resetSeconds: int('AUTH_LOCKOUT_RESET_SECONDS', 60, 31_536_000),
      },
      enrolmentMaxAgeSeconds: int('ENROLMENT_MAX_AGE_SECONDS', 10, 86_400),
      recoveryHoldSeconds: int('RECOVERY_HOLD_SECONDS', 0, 2_592_000),
    },
    federation: {
      downstreamsFile: raw('FEDERATION_DOWNSTREAMS_FILE'),
      httpTimeoutMs: int('FEDERATION_HTTP_TIMEOUT_MS', 100, 60_000),
      httpMaxBytes: int('FEDERATION_HTTP_MAX_BYTES', 1024, 4_194_304),
      metadataCacheSeconds: int('FEDERATION_METADATA_CACHE_SECONDS', 1, 86_400),
      allowHttpLoopback: mode !== 'production',
    },
    digitalCredentials: {
      policyFile: raw('DIGITAL_CREDENTIALS_FILE'),
      // Embedded default only: <DATA_DIR>/trust-anchors, where `npm run demo -- --wallet` writes its demo issuer's
      // root; read again when it changes, so the running server trusts a CA written after it started. Production
      // trusts nothing it was not told to.
      trustAnchors: raw('DIGITAL_CREDENTIALS_TRUST_ANCHORS') ?? (mode === 'embedded' ? join(raw('DATA_DIR') ?? '.data', 'trust-anchors') : undefined),
      trustAnchorsWatched: raw('DIGITAL_CREDENTIALS_TRUST_ANCHORS') === undefined && mode === 'embedded',
      verifierKeyFile: raw('DIGITAL_CREDENTIALS_VERIFIER_KEY_FILE'),
      verifierCertFile: raw('DIGITAL_CREDENTIALS_VERIFIER_CERT_FILE'),
      verifierUrl: url('DIGITAL_CREDENTIALS_VERIFIER_URL', raw('DIGITAL_CREDENTIALS_VERIFIER_URL'), ['https:', 'http:']),
      requestTtlSeconds: int('DIGITAL_CREDENTIALS_REQUEST_TTL_SECONDS', 30, 3600),
      metadataIssuers: [...new Set(metadataIssuers)],
      allowHttpLoopback: dcLoopback && mode !== 'production',
    },
    authorization: {
      detailsFile: raw('AUTHORIZATION_DETAILS_FILE'),
      parRequestUriTtlSeconds: int('PAR_REQUEST_URI_TTL_SECONDS', 5, 600),
      requirePushedAuthorizationRequests: bool('REQUIRE_PUSHED_AUTHORIZATION_REQUESTS'),
    },
    sessions: {
      maxLifetimeSeconds: int('SESSION_MAX_LIFETIME_SECONDS', 60, 31_536_000),
      idleSeconds: int('SESSION_IDLE_TTL_SECONDS', 60, 31_536_000),
    },
    janitor: {
      auditRetentionDays: int('AUDIT_RETENTION_DAYS', 1, 36_500),
      batchSize: int('JANITOR_BATCH_SIZE', 1, 100_000),
      pauseMs: int('JANITOR_PAUSE_MS', 0, 60_000),
    },
    openidFederation,
    messaging: {
      smtpUrl,
      emailFrom: raw('EMAIL_FROM') ?? 'first-party-auth <no-reply@localhost>',
      smsUrl,
      smsAuthorization: raw('SMS_PROVIDER_AUTHORIZATION'),
      smsBodyTemplate,
      sendBudget,
    },
    webauthn: { rpId: raw('WEBAUTHN_RP_ID') ?? issuerUrl?.hostname ?? 'localhost', rpName: raw('WEBAUTHN_RP_NAME') ?? 'first-party-auth', origins },
    resourceServer: {
      audience: url('RESOURCE_AUDIENCE', raw('RESOURCE_AUDIENCE'), ['https:', 'http:']) ?? `${issuer}/resources`,
      issuer: authIssuer,
      jwksUri: url('AUTH_JWKS_URI', raw('AUTH_JWKS_URI'), ['https:', 'http:']) ?? `${authIssuer}/jwks`,
      jwksCacheSeconds: int('AUTH_JWKS_CACHE_SECONDS', 1, 3600),
      nonceSecret: secretBytes('RS_NONCE_SECRET', 32),
      popKeyFile: raw('RS_POP_KEY_FILE'),
    },
    pop: { resourceServersFile: raw('POP_RESOURCE_SERVERS_FILE') },
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Which production-required variables an app actually reads. */
function appNeeds(app: AppName, name: EnvVarName): boolean {
  if (app === 'sample-api') return name === 'REDIS_URL';
  if (app === 'cli') return name === 'DATABASE_URL' || name === 'KEY_ENCRYPTION_KEY';
  return true;
}
