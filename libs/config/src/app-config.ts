import type { AppName } from './env-vars';

/** The validated configuration every app reads (built by `loadConfig`, the only reader of process.env). */
export type AppMode = 'production' | 'embedded';
export type SigningAlg = 'ES256' | 'RS256';
export type TrustProxy = boolean | number | string | string[];

/** A trust anchor: its entity id and the public keys it signs with (OpenID Federation 1.0 §1.2). */
export interface OpenIdFederationTrustAnchor {
  readonly entityId: string;
  readonly jwks: { readonly keys: readonly Readonly<Record<string, unknown>>[] };
}

export interface AppConfig {
  readonly app: AppName;
  readonly mode: AppMode;
  readonly http: {
    readonly port: number;
    readonly host: string;
    /** Issuer identifier without a trailing slash. */
    readonly issuer: string;
    readonly trustProxy: TrustProxy;
    readonly shutdownGraceMs: number;
  };
  readonly log: { readonly level: string };
  readonly db: {
    /** Undefined = PGlite in `dataDir` (embedded mode only). */
    readonly url: string | undefined;
    readonly poolSize: number;
    readonly ssl: boolean;
    /** PEM CA bundle for the server certificate (DATABASE_SSL_CA). */
    readonly sslCa: string | undefined;
    readonly runMigrations: boolean;
  };
  readonly redis: { readonly url: string | undefined; readonly keyPrefix: string };
  readonly dataDir: string;
  readonly keys: {
    readonly encryptionKey: Uint8Array | undefined;
    readonly signingAlg: SigningAlg;
    readonly publishLeadSeconds: number;
    readonly refreshSeconds: number;
  };
  readonly dpop: {
    readonly nonceSecret: Uint8Array | undefined;
    readonly nonceWindowSeconds: number;
    readonly proofMaxAgeSeconds: number;
    readonly algs: readonly string[];
  };
  readonly clockSkewSeconds: number;
  readonly tokens: {
    readonly accessTokenTtl: number;
    readonly refreshTokenTtl: number;
    readonly deviceSessionTtl: number;
    /**
     * How long the token endpoint keeps a device session in process (0: never). Each use is checked
     * against the session's flags in the request's own store round trip (DeviceSessionCache).
     */
    readonly deviceSessionCacheSeconds: number;
    readonly fpTokenTtl: number;
    readonly defaultAudience: string;
  };
  readonly assertions: { readonly strictAudience: boolean; readonly maxLifetimeSeconds: number };
  /** private_key_jwt clients' key sets (RFC 7591 `jwks`, `jwks_uri`): fetch limits and cache lifetimes. */
  readonly clientJwks: {
    /** Lifetime of a fetched set without `Cache-Control: max-age`, clamped to [min, max]. */
    readonly cacheSeconds: number;
    readonly minCacheSeconds: number;
    readonly maxCacheSeconds: number;
    /** At most one fetch per URI per cooldown. */
    readonly cooldownSeconds: number;
    /** How long past its expiry a set may still verify while refetches fail. */
    readonly staleGraceSeconds: number;
    readonly fetchTimeoutMs: number;
    readonly maxBytes: number;
    readonly maxKeys: number;
    /** `jwks_uri` may use http on a loopback host (never in production). */
    readonly allowHttpLoopback: boolean;
  };
  readonly registration: { readonly rateLimit: number; readonly rateWindowSeconds: number };
  readonly clientsFile: string | undefined;
  readonly challenge: {
    readonly methods: readonly string[];
    readonly otpTtlSeconds: number;
    readonly otpLength: number;
    readonly maxAttempts: number;
    readonly flowTtlSeconds: number;
    readonly sessionTtlSeconds: number;
    readonly rateLimitSession: number;
    readonly rateLimitIp: number;
    readonly rateLimitDestination: number;
    readonly resendSeconds: number;
    readonly codeTtlSeconds: number;
    /** Issue 7: failures per secret (PostgreSQL) before lockout, and the backoff. */
    readonly lockout: { readonly threshold: number; readonly baseLockSeconds: number; readonly maxLockSeconds: number; readonly resetSeconds: number };
    /** A new credential needs an authentication at least this recent. */
    readonly enrolmentMaxAgeSeconds: number;
    /** A credential enrolled through recovery proves nothing beyond its recovery basis for this long. */
    readonly recoveryHoldSeconds: number;
  };
  /** Issue 10, the federating side: the downstream servers and the one outbound HTTP client that talks to them. */
  readonly federation: {
    /** FEDERATION_DOWNSTREAMS_FILE: the downstream servers (JSON, libs/federation downstream-registry.ts); unset = none. */
    readonly downstreamsFile: string | undefined;
    readonly httpTimeoutMs: number;
    readonly httpMaxBytes: number;
    readonly metadataCacheSeconds: number;
    /** Downstream URLs may use http on a loopback host (never in production). */
    readonly allowHttpLoopback: boolean;
  };
  /** Issue 11: the `digital_credential` method as an OpenID4VP verifier (libs/openid4vp). */
  readonly digitalCredentials: {
    /** DIGITAL_CREDENTIALS_FILE: DCQL per client/acr, user claim, kept claims, RAR mappings; unset = the embedded default. */
    readonly policyFile: string | undefined;
    /** PEM file or directory; unset = no trusted issuer (production), `<DATA_DIR>/trust-anchors` (embedded). */
    readonly trustAnchors: string | undefined;
    /** The embedded default's directory: may be absent or empty, re-read when its files change (the demo writes its CA there). */
    readonly trustAnchorsWatched: boolean;
    readonly verifierKeyFile: string | undefined;
    readonly verifierCertFile: string | undefined;
    /** An external verifier service (HTTP adapter); unset = built in. */
    readonly verifierUrl: string | undefined;
    readonly requestTtlSeconds: number;
    /** DIGITAL_CREDENTIALS_METADATA_ISSUERS: `iss` values trusted through their JWT VC Issuer Metadata (no `x5c`). */
    readonly metadataIssuers: readonly string[];
    /** Status lists and issuer metadata may be fetched over http from a loopback host (never in production). */
    readonly allowHttpLoopback: boolean;
  };
  /** Authorization requests (issue 9): RAR types, PAR. */
  readonly authorization: {
    /** AUTHORIZATION_DETAILS_FILE: the RAR types (JSON Schemas); unset = the examples in embedded mode, none otherwise. */
    readonly detailsFile: string | undefined;
    readonly parRequestUriTtlSeconds: number;
    readonly requirePushedAuthorizationRequests: boolean;
  };
  /** auth_session lifetimes (issue 7 finding 5). */
  readonly sessions: {
    /** From creation; nothing extends a session past it. */
    readonly maxLifetimeSeconds: number;
    /** How long a user authentication keeps the session alive (bounded by the absolute lifetime). */
    readonly idleSeconds: number;
  };
  /** The janitor (`cli janitor`): what it keeps beyond expiry, and how it deletes. */
  readonly janitor: {
    /** Audit events (and janitor run records) older than this are deleted. */
    readonly auditRetentionDays: number;
    /** Rows per DELETE statement (one short transaction each). */
    readonly batchSize: number;
    /** Pause between batches. */
    readonly pauseMs: number;
  };
  /** OpenID Federation 1.0 (issue 10): the suite's entity configuration and trust chain resolution (FED-4). */
  readonly openidFederation: {
    /** Empty: no federation trust configured. */
    readonly trustAnchors: readonly OpenIdFederationTrustAnchor[];
    readonly authorityHints: readonly string[];
    readonly organizationName: string | undefined;
    readonly statementTtlSeconds: number;
    readonly maxChainLength: number;
    readonly maxAuthorityHints: number;
    readonly maxFetches: number;
    readonly fetchTimeoutMs: number;
    readonly resolveTimeoutMs: number;
    readonly maxResponseBytes: number;
    readonly chainCacheSeconds: number;
    readonly allowHttpLoopback: boolean;
  };
  readonly messaging: {
    readonly smtpUrl: string | undefined;
    readonly emailFrom: string;
    readonly smsUrl: string | undefined;
    readonly smsAuthorization: string | undefined;
    readonly smsBodyTemplate: string;
    /** Messages per clock hour, per client and for the whole suite, by channel. */
    readonly sendBudget: { readonly [channel in 'email' | 'sms']: { readonly perClient: number; readonly global: number } };
  };
  readonly webauthn: { readonly rpId: string; readonly rpName: string; readonly origins: readonly string[] };
  readonly resourceServer: {
    readonly audience: string;
    readonly issuer: string;
    readonly jwksUri: string;
    /** How long a fetched JWKS is trusted; a retired key keeps verifying here at most this long. */
    readonly jwksCacheSeconds: number;
    readonly nonceSecret: Uint8Array | undefined;
    /** RS_POP_KEY_FILE: this API's private PoP key (JWK) for `cnf.jwe`; unset = asymmetric PoP keys only. */
    readonly popKeyFile: string | undefined;
  };
  /** Issue 12 (seed 001): PoP tokens. POP_RESOURCE_SERVERS_FILE: the registered resource servers (libs/grants pop/); unset = none. */
  readonly pop: { readonly resourceServersFile: string | undefined };
}
