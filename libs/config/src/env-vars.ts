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
  DATABASE_SSL_CA: {
    doc: 'Path to a PEM bundle of CAs that sign the PostgreSQL server certificate (managed databases with a private CA, e.g. RDS or Cloud SQL). Implies `DATABASE_SSL=true`.',
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
    doc: 'base64url of 32 random bytes; encrypts signing private keys at rest (A256GCM) and keys the browser login’s CSRF tokens (HKDF). Required in production; generated into DATA_DIR in embedded mode.',
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
  DEVICE_SESSION_TTL_SECONDS: { doc: 'Lifetime of a device `auth_session` after registration (user authentications extend it by SESSION_IDLE_TTL_SECONDS, up to SESSION_MAX_LIFETIME_SECONDS).', default: '2592000' },
  DEVICE_SESSION_CACHE_SECONDS: {
    doc: 'How long a token process keeps a device session in memory instead of reading PostgreSQL on each device grant (0 = off, at most 300); every use is checked against the session’s revoked/changed flags in the request’s own Redis round trip.',
    default: '30',
  },
  FP_TOKEN_TTL_SECONDS: { doc: 'Lifetime of the `fp+jwt` registration token (`expires_in`).', default: '3600' },
  DEFAULT_AUDIENCE: {
    doc: 'Access-token `aud` when the client names no `resource`. Default `<ISSUER>/resources`.',
  },
  ASSERTION_STRICT_AUDIENCE: {
    doc: 'Default for client assertions’ `aud` (JWTCA-9): `true` = the issuer as the sole audience (RFC 7523bis); `false` also accepts the URL of the endpoint the assertion is sent to (RFC 7523, the seeds). A client’s `assertion_audience` (`issuer` or `issuer_or_endpoint`) overrides it.',
    default: 'true',
  },
  ASSERTION_MAX_LIFETIME_SECONDS: { doc: 'Client assertions may not expire further ahead than this.', default: '300' },
  CLIENT_JWKS_CACHE_SECONDS: {
    doc: 'How long a key set fetched from a client’s `jwks_uri` (private_key_jwt) is used when its response has no `Cache-Control: max-age`.',
    default: '300',
  },
  CLIENT_JWKS_CACHE_MIN_SECONDS: { doc: 'Shortest lifetime of a fetched client key set, whatever its `Cache-Control` says (`no-store` and `no-cache` included).', default: '60' },
  CLIENT_JWKS_CACHE_MAX_SECONDS: { doc: 'Longest lifetime of a fetched client key set: a key the client removed stops verifying after at most this long.', default: '86400' },
  CLIENT_JWKS_REFETCH_COOLDOWN_SECONDS: {
    doc: 'At most one fetch of a `jwks_uri` per this many seconds: after an unknown `kid` (key rotation), after a failed fetch, or while a stale set is in its grace period.',
    default: '30',
  },
  CLIENT_JWKS_STALE_GRACE_SECONDS: {
    doc: 'When refetching an expired client key set fails (timeout, HTTP error, malformed answer), the old set keeps verifying this much longer; `0` = never. A set that turns out to hold private keys is dropped at once.',
    default: '600',
  },
  CLIENT_JWKS_FETCH_TIMEOUT_MS: { doc: 'Total time allowed to fetch a `jwks_uri` (connection, headers and body), in ms.', default: '3000' },
  CLIENT_JWKS_MAX_BYTES: { doc: 'Largest client key set accepted: a `jwks_uri` response (counted while it streams in) or an inline `jwks` at registration.', default: '65536' },
  CLIENT_JWKS_MAX_KEYS: { doc: 'Most keys a client key set (`jwks` or `jwks_uri`) may hold.', default: '20' },
  REGISTRATION_RATE_LIMIT: {
    doc: 'Device registrations allowed per client IP per window (an IPv6 client counts by its /64).',
    default: '30',
  },
  REGISTRATION_RATE_WINDOW_SECONDS: { doc: 'Window of the registration rate limit.', default: '60' },
  CLIENTS_FILE: {
    doc: 'Optional JSON file of clients upserted into PostgreSQL at start (declarative client management).',
  },
  CHALLENGE_METHODS: {
    doc: 'Challenge modules enabled at the authorization challenge endpoint (comma-separated). Unset in embedded mode: the default plus `digital_credential`.',
    default: 'email_otp,sms_otp,totp,passkey',
  },
  OTP_TTL_SECONDS: { doc: 'Lifetime of an email or SMS one-time code.', default: '300' },
  OTP_LENGTH: { doc: 'Digits in an email or SMS one-time code.', default: '6' },
  CHALLENGE_MAX_ATTEMPTS: { doc: 'Wrong answers before a challenge is burned.', default: '5' },
  CHALLENGE_FLOW_TTL_SECONDS: { doc: 'How long a challenge flow (its state in Redis) lives without activity.', default: '600' },
  CHALLENGE_SESSION_TTL_SECONDS: {
    doc: 'Lifetime of an `auth_session` created at the challenge endpoint until a user authenticates in it (then SESSION_IDLE_TTL_SECONDS, up to SESSION_MAX_LIFETIME_SECONDS).',
    default: '900',
  },
  CHALLENGE_RATE_LIMIT_SESSION: { doc: 'Challenge requests per `auth_session` per minute.', default: '30' },
  CHALLENGE_RATE_LIMIT_IP: { doc: 'Challenge requests per client IP per minute (an IPv6 client counts by its /64).', default: '300' },
  CHALLENGE_RATE_LIMIT_DESTINATION: { doc: 'Codes sent to one email address or phone number per hour.', default: '10' },
  CHALLENGE_RESEND_SECONDS: { doc: 'Minimum time between two codes to the same destination.', default: '30' },
  AUTHORIZATION_CODE_TTL_SECONDS: { doc: 'Lifetime of an authorization code from the challenge endpoint.', default: '60' },
  AUTH_LOCKOUT_THRESHOLD: {
    doc: 'Wrong answers per secret (a TOTP user, an OTP destination, a user’s passkeys), counted in PostgreSQL across flows, before it locks.',
    default: '10',
  },
  AUTH_LOCKOUT_SECONDS: { doc: 'First lockout after AUTH_LOCKOUT_THRESHOLD failures; each further failure doubles it.', default: '60' },
  AUTH_LOCKOUT_MAX_SECONDS: { doc: 'Longest lockout.', default: '3600' },
  AUTH_LOCKOUT_RESET_SECONDS: { doc: 'Failures are forgotten after this long without one.', default: '86400' },
  ENROLMENT_MAX_AGE_SECONDS: {
    doc: 'Enrolling a credential (passkey, TOTP app) needs an authentication in this session at most this old, at least as strong as the user’s strongest credential.',
    default: '300',
  },
  RECOVERY_HOLD_SECONDS: {
    doc: 'A credential enrolled through account recovery (`action=recover`) proves nothing beyond its recovery basis for this long (a client’s `challenge_policy.recovery.hold_seconds` overrides it).',
    default: '86400',
  },
  AUTHORIZATION_DETAILS_FILE: {
    doc: 'JSON file of the RAR types the suite accepts (`{"<type>": {"description", "schema"}}`, each a closed JSON Schema; RFC 9396). Unset: the examples `payment_initiation` and `account_information` in embedded mode, none in production.',
  },
  FEDERATION_DOWNSTREAMS_FILE: {
    doc: 'JSON file of the downstream authorization servers the suite may federate to (issuer, our `client_id` there, allowed hosts, trusted `acr`/`amr`; docs/federation.md). Unset: none (a client’s `routing_policy` can then only route locally).',
  },
  POP_RESOURCE_SERVERS_FILE: {
    doc: 'JSON file of the resource servers PoP tokens (seed 001, `req_cnf`/`token_type=pop`) may be issued for: identifier, public JWK (`rs_cnf`, and the key `cnf.jwe` is encrypted to), accepted PoP key types (docs/pop-tokens.md). Unset: no PoP tokens (DPoP stays the only binding).',
  },
  FEDERATION_HTTP_TIMEOUT_MS: { doc: 'Timeout of every request to a downstream server (metadata, PAR, token, JWKS), in ms.', default: '5000' },
  FEDERATION_HTTP_MAX_BYTES: { doc: 'Largest response body accepted from a downstream server; a larger one is refused unread.', default: '262144' },
  FEDERATION_METADATA_CACHE_SECONDS: { doc: 'How long a downstream server’s RFC 8414 metadata (and JWKS) is trusted before it is fetched again.', default: '300' },
  DIGITAL_CREDENTIALS_FILE: {
    doc: 'JSON file of the `digital_credential` method’s policy (docs/digital-credentials.md): DCQL queries per client and acr, the claim that names the user, the disclosed claims kept, the RAR → `transaction_data` mappings. Unset: an SD-JWT VC (`urn:eudi:pid:1`) with `sub` (and `email` when disclosed), `payment_initiation` mapped.',
  },
  DIGITAL_CREDENTIALS_TRUST_ANCHORS: {
    doc: 'PEM file, or directory of `.pem` files, of the credential issuers’ root certificates (SD-JWT VC `x5c`, mdoc IACA). Unset: no issuer is trusted (every presentation is refused); in embedded mode `<DATA_DIR>/trust-anchors/`, re-read when it changes (`npm run demo -- --wallet` writes its demo issuer’s root there).',
  },
  DIGITAL_CREDENTIALS_VERIFIER_KEY_FILE: {
    doc: 'PEM private key (P-256) that signs OpenID4VP request objects (`x509_san_dns` client identifier). Unset in embedded mode: a key and a self-signed certificate generated on the first start and kept in `DATA_DIR/verifier`.',
  },
  DIGITAL_CREDENTIALS_VERIFIER_CERT_FILE: {
    doc: 'PEM certificate chain (leaf first) of the request-object key; the leaf’s DNS SAN must be the host of ISSUER. Required with the key file.',
  },
  DIGITAL_CREDENTIALS_VERIFIER_URL: {
    doc: 'An external presentation verifier (docs/verifier.md, HTTP contract): presentations are POSTed there instead of being verified in process. Unset: the built-in verifier.',
  },
  DIGITAL_CREDENTIALS_METADATA_ISSUERS: {
    doc: 'Comma-separated https issuer identifiers (SD-JWT VC `iss`, exact strings) trusted through their JWT VC Issuer Metadata: a credential (or Status List Token) without `x5c` from one of them is verified with the key its `/.well-known/jwt-vc-issuer` publishes (docs/verifier.md). Unset: only `x5c` chains to DIGITAL_CREDENTIALS_TRUST_ANCHORS are trusted.',
  },
  DIGITAL_CREDENTIALS_ALLOW_HTTP_LOOPBACK: {
    doc: '`true`: Token Status Lists and issuer metadata on a loopback host (127.0.0.1, ::1, localhost) may be fetched over plain http, and such issuers may be listed in DIGITAL_CREDENTIALS_METADATA_ISSUERS (tests and local development only; refused when APP_MODE=production).',
    default: 'false',
  },
  DIGITAL_CREDENTIALS_REQUEST_TTL_SECONDS: { doc: 'Lifetime of an OpenID4VP presentation request (request object, response endpoint, DC API prompt).', default: '300' },
  PAR_REQUEST_URI_TTL_SECONDS: { doc: 'Lifetime of a pushed authorization request’s `request_uri` (RFC 9126, at most 600).', default: '60' },
  REQUIRE_PUSHED_AUTHORIZATION_REQUESTS: {
    doc: '`true`: every browser authorization request must be pushed (`request_uri` from `/par`); a client can also require it for itself.',
    default: 'false',
  },
  SESSION_MAX_LIFETIME_SECONDS: { doc: 'Absolute lifetime of every `auth_session`, from its creation; nothing extends it.', default: '7776000' },
  SESSION_IDLE_TTL_SECONDS: {
    doc: 'A user authentication keeps its `auth_session` alive this long (within the absolute lifetime); a code issued without user interaction extends nothing.',
    default: '2592000',
  },
  AUDIT_RETENTION_DAYS: {
    doc: 'The janitor (`npm run janitor`) deletes audit events (`audit_events`) and its own run records older than this many days.',
    default: '365',
  },
  JANITOR_BATCH_SIZE: {
    doc: 'Rows the janitor deletes per statement; each batch is its own short transaction and skips rows another transaction holds.',
    default: '1000',
  },
  JANITOR_PAUSE_MS: { doc: 'Pause between two janitor batches, in ms (spreads the load of a large backlog).', default: '0' },
  SEND_BUDGET_SMS_PER_CLIENT: {
    doc: 'SMS messages one client (app) may have sent per clock hour, across all its users; then 429 `slow_down` until the hour ends. Caps SMS pumping through free public sessions.',
    default: '500',
  },
  SEND_BUDGET_SMS_GLOBAL: { doc: 'SMS messages the whole suite may send per clock hour, all clients together.', default: '1000' },
  SEND_BUDGET_EMAIL_PER_CLIENT: { doc: 'Emails one client (app) may have sent per clock hour, across all its users.', default: '5000' },
  SEND_BUDGET_EMAIL_GLOBAL: { doc: 'Emails the whole suite may send per clock hour, all clients together.', default: '10000' },
  SMTP_URL: {
    doc: 'SMTP server for email codes (nodemailer URL, e.g. `smtps://user:pass@smtp.example.com`). Required in production when `email_otp` is enabled; the embedded default writes to an outbox instead.',
    secret: true,
  },
  EMAIL_FROM: { doc: 'Sender of email codes.', default: 'first-party-auth <no-reply@localhost>' },
  SMS_PROVIDER_URL: {
    doc: 'HTTPS endpoint of the SMS provider (a JSON POST per message). Required in production when `sms_otp` is enabled; the embedded default writes to an outbox instead.',
  },
  SMS_PROVIDER_AUTHORIZATION: { doc: 'Value of the `Authorization` header sent to the SMS provider.', secret: true },
  SMS_PROVIDER_BODY: {
    doc: 'JSON body template for the SMS provider; `{{to}}` and `{{message}}` are replaced (JSON-escaped).',
    default: '{"to":"{{to}}","message":"{{message}}"}',
  },
  WEBAUTHN_RP_ID: { doc: 'WebAuthn relying-party id (a registrable domain). Default: the ISSUER host.' },
  WEBAUTHN_RP_NAME: { doc: 'WebAuthn relying-party name shown by authenticators.', default: 'first-party-auth' },
  WEBAUTHN_ORIGINS: {
    doc: 'Origins accepted in passkey responses (comma-separated): web origins and native app origins such as `android:apk-key-hash:<hash>`. Default: the ISSUER origin.',
  },
  OPENID_FEDERATION_TRUST_ANCHORS: {
    doc: 'OpenID Federation trust anchors for `native_callback_uri` trust (FED-4): a JSON array `[{"entity_id": "https://ta.example.com", "jwks": {"keys": [...]}}]`. Unset = no federation trust (the policy answers "unknown").',
  },
  OPENID_FEDERATION_AUTHORITY_HINTS: {
    doc: 'The suite’s own entity configuration (`/.well-known/openid-federation`): its superiors’ entity ids, comma-separated (`authority_hints`).',
  },
  OPENID_FEDERATION_ORGANIZATION_NAME: { doc: '`organization_name` in the suite’s `federation_entity` metadata.' },
  OPENID_FEDERATION_STATEMENT_TTL_SECONDS: { doc: 'Lifetime (`exp` − `iat`) of the suite’s entity configuration.', default: '86400' },
  OPENID_FEDERATION_MAX_CHAIN_LENGTH: { doc: 'Most superiors above a leaf entity that trust chain resolution follows (the trust anchor included).', default: '5' },
  OPENID_FEDERATION_MAX_AUTHORITY_HINTS: { doc: 'Most `authority_hints` followed per entity; further ones are ignored.', default: '4' },
  OPENID_FEDERATION_MAX_FETCHES: { doc: 'Most HTTP fetches one trust chain resolution may make, whatever the hints say.', default: '24' },
  OPENID_FEDERATION_FETCH_TIMEOUT_MS: { doc: 'Time allowed for one entity statement fetch (connection, headers and body), in ms.', default: '3000' },
  OPENID_FEDERATION_RESOLVE_TIMEOUT_MS: { doc: 'Time allowed for a whole trust chain resolution, in ms.', default: '10000' },
  OPENID_FEDERATION_MAX_RESPONSE_BYTES: { doc: 'Largest entity statement accepted (counted while it streams in).', default: '65536' },
  OPENID_FEDERATION_CHAIN_CACHE_SECONDS: { doc: 'A resolved trust chain is cached until its earliest `exp`, but at most this long.', default: '3600' },
  OPENID_FEDERATION_ALLOW_HTTP_LOOPBACK: {
    doc: '`true`: entity ids on a loopback host may use http (tests only; never in a deployment). Otherwise only https entity ids are resolved.',
    default: 'false',
  },
  RESOURCE_AUDIENCE: {
    doc: 'sample-api: the audience (resource identifier) it accepts. Default `<ISSUER>/resources`.',
  },
  AUTH_ISSUER: { doc: 'sample-api: issuer whose tokens it accepts. Default: ISSUER.' },
  AUTH_JWKS_URI: { doc: 'sample-api: JWKS URL of the issuer. Default `<AUTH_ISSUER>/jwks`.' },
  AUTH_JWKS_CACHE_SECONDS: {
    doc: 'sample-api: how long a fetched JWKS is trusted before it is fetched again (an unknown `kid` refetches sooner). A retired signing key keeps verifying there for at most this long.',
    default: '60',
  },
  RS_NONCE_SECRET: {
    doc: 'sample-api: base64url ≥ 32 bytes for resource-server DPoP nonces. Unset = the API does not require nonces.',
    secret: true,
  },
  RS_POP_KEY_FILE: {
    doc: 'sample-api: file holding the private JWK (EC P-256/X25519/RSA) whose public half is registered for this API in POP_RESOURCE_SERVERS_FILE; it decrypts the symmetric PoP key in `cnf.jwe`. Unset: the API accepts PoP tokens with client (asymmetric) keys only.',
  },
} as const satisfies Record<string, VarSpec>;

export type EnvVarName = keyof typeof ENV_VARS;

export function isKnownEnvVar(name: string): name is EnvVarName {
  return Object.prototype.hasOwnProperty.call(ENV_VARS, name);
}
