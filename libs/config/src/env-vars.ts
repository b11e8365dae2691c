/**
 * Every environment variable the suite reads, in one table. This is the only place that knows
 * variable names: `loadConfig` validates against it, the README's configuration table is checked
 * against it, and the deployment checks (docker-compose, k8s) assert they set only names listed here.
 */

export type AppName =
  | 'standalone'
  | 'registration'
  | 'token'
  | 'challenge'
  | 'federation'
  | 'sample-api'
  | 'cli';

export interface VarSpec {
  /** One line for the README table. */
  readonly doc: string;
  /** Default as written in the environment; `undefined` = no default. */
  readonly default?: string;
  /** `production`: must be set when APP_MODE=production. */
  readonly required?: 'production';
  /** Never echoed in error messages or logs. */
  readonly secret?: boolean;
}

export const ENV_VARS = {
  APP_MODE: {
    doc: '`production` (PostgreSQL + Redis required, no outbox) or `embedded` (PGlite + in-process store when the URLs are unset). Default: `embedded` for the standalone app, `production` for every other app.',
  },
  PORT: { doc: 'HTTP port.', default: '3000' },
  HOST: { doc: 'Bind address.', default: '0.0.0.0' },
  ISSUER: {
    doc: 'Issuer identifier and public base URL of the suite (https, or http only for localhost). Endpoint URLs and DPoP `htu` checks derive from it.',
  },
  TRUST_PROXY: {
    doc: 'Express `trust proxy` setting: `false`, `true`, a hop count, or a comma-separated list of subnets. Decides which client IP rate limits see.',
    default: 'loopback',
  },
  LOG_LEVEL: { doc: 'pino level: fatal, error, warn, info, debug, trace, silent.', default: 'info' },
  SHUTDOWN_GRACE_MS: {
    doc: 'On SIGTERM: how long readiness reports failure before the server stops accepting, in ms.',
    default: '0',
  },
  DATABASE_URL: {
    doc: 'PostgreSQL URL. Required in production; in embedded mode PGlite in `DATA_DIR` is used when unset.',
    required: 'production',
    secret: true,
  },
  DATABASE_POOL_SIZE: { doc: 'PostgreSQL connection pool size per process.', default: '10' },
  DATABASE_SSL: {
    doc: '`true` to require TLS to PostgreSQL (verifies the server certificate).',
    default: 'false',
  },
  MIGRATIONS_RUN: {
    doc: 'Run pending migrations at start-up. Default `true` in embedded mode; in production migrations run as a job and the app refuses to start on a stale schema.',
  },
  REDIS_URL: {
    doc: 'Redis URL. Required in production; in embedded mode an in-process store is used when unset.',
    required: 'production',
    secret: true,
  },
  REDIS_KEY_PREFIX: { doc: 'Prefix for every Redis key (lets suites share a Redis).', default: 'fpa:' },
  DATA_DIR: {
    doc: 'Embedded mode only: folder for PGlite data, generated secrets and the outbox.',
    default: '.data',
  },
  KEY_ENCRYPTION_KEY: {
    doc: 'base64url of 32 random bytes; encrypts signing private keys at rest (A256GCM). Required in production; generated into DATA_DIR in embedded mode.',
    required: 'production',
    secret: true,
  },
  DPOP_NONCE_SECRET: {
    doc: 'base64url of ≥ 32 random bytes shared by every replica; DPoP nonces are HMACs under it. Required in production; generated into DATA_DIR in embedded mode.',
    required: 'production',
    secret: true,
  },
  DPOP_NONCE_WINDOW_SECONDS: {
    doc: 'A DPoP nonce stays valid for this window and the next one.',
    default: '60',
  },
  DPOP_PROOF_MAX_AGE_SECONDS: { doc: 'Oldest acceptable DPoP proof `iat`.', default: '60' },
  DPOP_ALGS: {
    doc: 'Accepted DPoP proof algorithms (comma-separated).',
    default: 'ES256,ES384,EdDSA,Ed25519,PS256,RS256',
  },
  CLOCK_SKEW_SECONDS: { doc: 'Tolerated clock skew for `iat`/`nbf`/`exp` checks.', default: '5' },
  SIGNING_ALG: { doc: 'Algorithm for new signing keys: `ES256` or `RS256`.', default: 'ES256' },
  KEY_PUBLISH_LEAD_SECONDS: {
    doc: 'A rotated-in key is published in /jwks this long before it signs (≥ resource servers’ JWKS cache time).',
    default: '300',
  },
  KEY_REFRESH_SECONDS: { doc: 'How often each replica reloads signing keys from PostgreSQL.', default: '30' },
  ACCESS_TOKEN_TTL_SECONDS: { doc: 'Access-token lifetime.', default: '600' },
  REFRESH_TOKEN_TTL_SECONDS: { doc: 'Refresh-token lifetime (the family’s absolute lifetime).', default: '2592000' },
  DEVICE_SESSION_TTL_SECONDS: { doc: 'Lifetime of a device `auth_session` after registration.', default: '2592000' },
  FP_TOKEN_TTL_SECONDS: { doc: 'Lifetime of the `fp+jwt` registration token (`expires_in`).', default: '3600' },
  DEFAULT_AUDIENCE: {
    doc: 'Access-token `aud` when the client names no `resource`. Default `<ISSUER>/resources`.',
  },
  ASSERTION_STRICT_AUDIENCE: {
    doc: '`true`: client assertions must carry exactly the issuer as `aud` (RFC 7523bis); `false` also accepts the token endpoint URL, as the seeds send it.',
    default: 'false',
  },
  ASSERTION_MAX_LIFETIME_SECONDS: { doc: 'Client assertions may not expire further ahead than this.', default: '300' },
  REGISTRATION_RATE_LIMIT: {
    doc: 'Device registrations allowed per client IP per window.',
    default: '30',
  },
  REGISTRATION_RATE_WINDOW_SECONDS: { doc: 'Window of the registration rate limit.', default: '60' },
  CLIENTS_FILE: {
    doc: 'Optional JSON file of clients upserted into PostgreSQL at start (declarative client management).',
  },
  RESOURCE_AUDIENCE: {
    doc: 'sample-api: the audience (resource identifier) it accepts. Default `<ISSUER>/resources`.',
  },
  AUTH_ISSUER: { doc: 'sample-api: issuer whose tokens it accepts. Default: ISSUER.' },
  AUTH_JWKS_URI: { doc: 'sample-api: JWKS URL of the issuer. Default `<AUTH_ISSUER>/jwks`.' },
  RS_NONCE_SECRET: {
    doc: 'sample-api: base64url ≥ 32 bytes for resource-server DPoP nonces. Unset = the API does not require nonces.',
    secret: true,
  },
} as const satisfies Record<string, VarSpec>;

export type EnvVarName = keyof typeof ENV_VARS;

export function isKnownEnvVar(name: string): name is EnvVarName {
  return Object.prototype.hasOwnProperty.call(ENV_VARS, name);
}
