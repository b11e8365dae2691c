import { randomUUID } from 'node:crypto';
import type { ChallengeMethod, Delivery } from '@fpa/challenge-kit';
import { CLIENT_METADATA_DEFAULTS, type Client } from '@fpa/clients';
import { loadConfig, type AppConfig } from '@fpa/config';
import { randomToken } from '@fpa/crypto';
import type { RequestInfo } from '@fpa/oauth-core';
import type { AuditEvent } from '@fpa/platform';
import type { DeviceSession, NewAuthorizationCode } from '@fpa/session';
import type { AttemptCharge, AuthenticationRecord, Enrolment, Identity, NewAuthenticationRecord, NewCredential, StoredCredential, User } from '@fpa/users';
import type { Reservation } from '../effects/delivery.service';

/**
 * In-memory stand-ins for what the interaction core reaches outside itself — users and their
 * records, the attempt limiter, the code store, delivery, the audit trail — for the unit specs
 * beside the loop. They keep the semantics the SQL has (one user per verified address, counters
 * that only move forward, a code only for a live session of the same user, the session extended
 * but never past its absolute end), so a spec fails when the core relies on something the real
 * store would not do. No jest here: the build ships this folder.
 */

/** 2027-01-15T08:00:00Z: far from any real clock, so nothing passes by accident on Date.now(). */
export const NOW = 1_800_000_000_000;
export const ISSUER = 'https://auth.example.com';
/** The one right answer of the fake one-time-code methods. */
export const CODE = '123456';

export function testConfig(env: Record<string, string> = {}): AppConfig {
  return loadConfig('standalone', { ISSUER, DPOP_NONCE_SECRET: Buffer.alloc(32, 9).toString('base64url'), ...env });
}

export function testClient(overrides: Partial<Client> = {}): Client {
  return {
    id: 'native-app',
    name: 'Native app',
    type: 'public',
    firstParty: true,
    grantTypes: ['client_credentials', 'refresh_token', 'authorization_code'],
    authMethods: ['none'],
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

export function testSession(nowMs: number, overrides: Partial<DeviceSession> = {}): DeviceSession {
  return {
    authSession: randomToken(32),
    clientId: 'native-app',
    keyJkt: 'jkt-1',
    publicJwk: { kty: 'EC' },
    keyAlg: 'dpop',
    status: 'active',
    createdAt: new Date(nowMs - 60_000),
    expiresAt: new Date(nowMs + 15 * 60_000),
    absoluteExpiresAt: new Date(nowMs + 90 * 86_400_000),
    kind: 'challenge',
    user: undefined,
    ...overrides,
  };
}

export function requestInfo(headers: Record<string, string> = {}): RequestInfo {
  return { method: 'POST', path: '/authorize-challenge', headers, ip: '203.0.113.9', requestId: 'req-1' };
}

/** Sum of a counter's values whose labels match `labels`. */
export async function counted(counter: { get(): Promise<{ values: { labels: Record<string, unknown>; value: number }[] }> }, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await counter.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0);
}

// --- methods --------------------------------------------------------------------------------------

/**
 * A one-time code to a channel, like email_otp / sms_otp: begin prompts with a delivery and a
 * guard; the answer is CODE (verified), six other digits (invalid_code) or anything else
 * (invalid_input).
 */
export function otpMethod(id = 'email_otp', channel: 'email' | 'sms' = 'email'): ChallengeMethod {
  const kind = channel === 'email' ? 'email' : 'phone';
  return {
    id,
    amr: ['otp', channel],
    assurance: { verifies: kind },
    parameters: [kind, 'code'],
    appliesTo: async () => true,
    begin: async (view, params) => {
      const to = (params[kind] as string | undefined) ?? view.user?.[kind] ?? view.loginHint;
      if (!to) return { kind: 'rejected', reason: 'invalid_input', description: `${kind} is required` };
      const delivery: Delivery = { channel, to, text: `Your code is ${CODE}` };
      return { kind: 'prompt', state: { to }, reply: { status: 'code_sent', destination: '***' }, expiresInSeconds: 300, delivery, guard: `${kind}:${to}` };
    },
    answer: async (_view, state, params) => {
      const code = params.code;
      if (typeof code !== 'string' || !/^\d{6}$/.test(code)) return { kind: 'rejected', reason: 'invalid_input', description: 'code must be 6 digits' };
      if (code !== CODE) return { kind: 'rejected', reason: 'invalid_code' };
      const to = (state as { to: string }).to;
      return { kind: 'verified', subject: { type: kind, value: to }, amr: ['otp', channel], verifiedValue: to };
    },
  };
}

export interface CredentialMethodOptions {
  readonly amr: readonly string[];
  readonly phishingResistant?: boolean;
  readonly multiFactorCapable?: boolean;
  readonly enrolAction: string;
  /** The answer's `userVerified` (WebAuthn UV). */
  readonly userVerified?: boolean;
}

/**
 * A credential-bound method, like totp (`enroll`) or passkey (`register`): it applies to a known
 * user; `action=<enrolAction>` prompts an enrolment answered with `credential` (the new id); else
 * the answer `credential=<id>` (with `counter`) is a use of that credential.
 */
export function credentialMethod(id: string, o: CredentialMethodOptions): ChallengeMethod {
  return {
    id,
    amr: o.amr,
    assurance: { factor: id, phishingResistant: o.phishingResistant, multiFactorCapable: o.multiFactorCapable, enrolAction: o.enrolAction },
    parameters: ['credential', 'counter'],
    appliesTo: async (view) => view.user !== undefined,
    begin: async (view, params) => {
      if (!view.user) return { kind: 'rejected', reason: 'invalid_input', description: 'no user' };
      const enrol = params.action === o.enrolAction;
      return { kind: 'prompt', state: { enrol, user: view.user.id }, reply: { status: enrol ? 'registration_required' : 'assertion_required' }, expiresInSeconds: 120, guard: `${id}:${view.user.id}` };
    },
    answer: async (_view, state, params) => {
      const s = state as { enrol: boolean; user: string };
      if (typeof params.credential !== 'string') return { kind: 'rejected', reason: 'invalid_input' };
      if (s.enrol) return { kind: 'verified', subject: { type: 'user', id: s.user }, amr: o.amr, credential: { action: 'add', credential: { method: id, credentialId: params.credential, publicData: {} } } };
      const counter = typeof params.counter === 'string' ? Number(params.counter) : undefined;
      return {
        kind: 'verified',
        subject: { type: 'user', id: s.user },
        amr: o.amr,
        ...(o.userVerified !== undefined ? { userVerified: o.userVerified } : {}),
        credential: { action: 'use', method: id, credentialId: params.credential, ...(counter !== undefined ? { counter } : {}) },
      };
    },
  };
}

export const totpMethod = (): ChallengeMethod => credentialMethod('totp', { amr: ['otp'], enrolAction: 'enroll' });
export const passkeyMethod = (userVerified = true): ChallengeMethod =>
  credentialMethod('passkey', { amr: ['hwk', 'user'], phishingResistant: true, multiFactorCapable: true, enrolAction: 'register', userVerified });

/** Waits for something outside (a wallet): begin is `pending`; `resume` with `{ email }` verifies it, `{}` is a wrong answer. */
export function walletMethod(id = 'wallet'): ChallengeMethod {
  return {
    id,
    amr: ['vc'],
    assurance: { verifies: 'email' },
    parameters: [],
    appliesTo: async () => true,
    begin: async () => ({ kind: 'pending', state: { nonce: 'n-1' }, reply: { request_uri: 'https://wallet.example/r/1' }, expiresInSeconds: 120, intervalSeconds: 5 }),
    answer: async () => ({ kind: 'rejected', reason: 'invalid_input', description: 'the wallet answers through resume' }),
    resume: async (_view, _state, payload) =>
      typeof payload.email === 'string' ? { kind: 'verified', subject: { type: 'email', value: payload.email }, amr: ['vc'], verifiedValue: payload.email } : { kind: 'rejected', reason: 'invalid_code' },
  };
}

// --- ports ----------------------------------------------------------------------------------------

type MutableCredential = { -readonly [K in keyof StoredCredential]: StoredCredential[K] } & { enrolledBy: Enrolment['by'] };

/** UsersService's records in memory (users, authentications, credentials). */
export class FakeUsers {
  readonly users = new Map<string, User>();
  readonly authentications: NewAuthenticationRecord[] = [];
  readonly creds = new Map<string, MutableCredential>();
  readonly resolvedAt: Date[] = [];

  /** Setup: a user (verified email unless told otherwise). */
  addUser(overrides: Partial<User> = {}): User {
    const id = overrides.id ?? randomUUID();
    const user: User = { id, email: `${id.slice(0, 8)}@example.com`, emailVerified: true, phone: null, phoneVerified: false, ...overrides };
    this.users.set(id, user);
    return user;
  }

  /** Setup: a credential the user holds (a full one, enrolled in no flow of the spec, unless told otherwise). */
  hold(userId: string, method: string, credentialId: string, overrides: Partial<StoredCredential> = {}): StoredCredential {
    const c: MutableCredential = { method, credentialId, userId, publicData: {}, secret: undefined, counter: 0, provisional: false, enrolledFlow: null, trustedAfterMs: null, basisRank: 3, enrolledBy: 'authentication', ...overrides };
    this.creds.set(`${method}:${credentialId}`, c);
    return c;
  }

  /** Setup: an authentication already recorded in a session. */
  recorded(authSession: string, userId: string, r: Partial<NewAuthenticationRecord> & { readonly method: string; readonly at: Date }): void {
    this.authentications.push({
      userId,
      authSession,
      amr: ['otp', 'email'],
      verifiedValue: null,
      flowId: null,
      factor: r.method,
      factors: 1,
      phishingResistant: false,
      verifies: null,
      credentialId: null,
      counted: true,
      ...r,
    });
  }

  async resolve(identity: Identity, now: Date): Promise<User | undefined> {
    if (identity.type === 'user') return this.find(identity.id);
    // One user per verified address (`ON CONFLICT (email) DO UPDATE SET email_verified_at`).
    const found = [...this.users.values()].find((u) => u[identity.type] === identity.value);
    const base: User = found ?? { id: randomUUID(), email: null, emailVerified: false, phone: null, phoneVerified: false };
    const user: User = identity.type === 'email' ? { ...base, email: identity.value, emailVerified: true } : { ...base, phone: identity.value, phoneVerified: true };
    this.resolvedAt.push(now);
    this.users.set(user.id, user);
    return user;
  }

  async find(id: string): Promise<User | undefined> {
    return this.users.get(id);
  }

  /** `resolve` and `recordAuthentication` in one statement. */
  async resolveAndRecord(identity: Extract<Identity, { type: 'email' | 'phone' }>, now: Date, r: Omit<NewAuthenticationRecord, 'userId'>): Promise<User> {
    const user = (await this.resolve(identity, now))!;
    this.authentications.push({ userId: user.id, ...r });
    return user;
  }

  async recordAuthentication(r: NewAuthenticationRecord): Promise<void> {
    this.authentications.push(r);
  }

  /** Newest first, as `ORDER BY authenticated_at DESC, id DESC`. */
  async sessionAuthentications(authSession: string): Promise<AuthenticationRecord[]> {
    return this.authentications
      .map((r, i) => ({ r, i }))
      .filter(({ r }) => r.authSession === authSession)
      .sort((a, b) => b.r.at.getTime() - a.r.at.getTime() || b.i - a.i)
      .map(({ r }) => ({
        method: r.method,
        amr: r.amr,
        userId: r.userId,
        authenticatedAt: r.at,
        flowId: r.flowId,
        factor: r.factor,
        factors: r.factors,
        phishingResistant: r.phishingResistant,
        verifies: r.verifies,
        credentialId: r.credentialId,
        counted: r.counted,
      }));
  }

  async heldCredentials(userId: string): Promise<Omit<StoredCredential, 'secret'>[]> {
    return [...this.creds.values()].filter((c) => c.userId === userId).map(({ secret: _secret, enrolledBy: _by, ...c }) => c);
  }

  async credential(method: string, credentialId: string): Promise<StoredCredential | undefined> {
    const c = this.creds.get(`${method}:${credentialId}`);
    return c ? { ...c } : undefined;
  }

  async addCredential(userId: string, c: NewCredential, enrolment: Enrolment, _now: Date): Promise<boolean> {
    if (this.creds.has(`${c.method}:${c.credentialId}`)) return false;
    this.hold(userId, c.method, c.credentialId, {
      publicData: c.publicData,
      secret: c.secret,
      counter: c.counter ?? 0,
      provisional: enrolment.provisional,
      enrolledFlow: enrolment.flowId,
      trustedAfterMs: enrolment.trustedAfter?.getTime() ?? null,
      basisRank: enrolment.basisRank,
    });
    this.creds.get(`${c.method}:${c.credentialId}`)!.enrolledBy = enrolment.by;
    return true;
  }

  async promoteCredential(method: string, credentialId: string): Promise<void> {
    const c = this.creds.get(`${method}:${credentialId}`);
    if (c) c.provisional = false;
  }

  /** As the SQL: with a counter, only a use that moves it forward. */
  async recordCredentialUse(method: string, credentialId: string, _now: Date, counter?: number): Promise<boolean> {
    const c = this.creds.get(`${method}:${credentialId}`);
    if (!c) return false;
    if (counter === undefined) return true;
    if (!(c.counter < counter)) return false;
    c.counter = counter;
    return true;
  }
}

/** AttemptLimiter's calls, recorded; a key in `locked` is refused with its retry-after. */
export class FakeAttempts {
  readonly charges: string[] = [];
  readonly refunds: string[] = [];
  readonly successes: string[] = [];
  readonly locked = new Map<string, number>();

  async charge(key: string, _now: Date): Promise<AttemptCharge> {
    const retryAfterSeconds = this.locked.get(key);
    if (retryAfterSeconds !== undefined) return { allowed: false, retryAfterSeconds };
    this.charges.push(key);
    return { allowed: true, failures: this.charges.filter((k) => k === key).length };
  }
  async refund(key: string): Promise<void> {
    this.refunds.push(key);
  }
  async succeed(key: string): Promise<void> {
    this.successes.push(key);
  }
}

/** DeviceSessionRepository.find over a map. */
export class FakeSessions {
  readonly byId = new Map<string, DeviceSession>();
  add(session: DeviceSession): DeviceSession {
    this.byId.set(session.authSession, session);
    return session;
  }
  async find(authSession: string): Promise<DeviceSession | undefined> {
    return this.byId.get(authSession);
  }
}

export interface IssuedCode extends NewAuthorizationCode {
  readonly code: string;
  readonly verified: readonly string[];
  readonly extendUntil: Date | null;
  readonly now: Date;
}

/** AuthorizationCodeService.issueForSession with the CTE's rules, over FakeSessions. */
export class FakeCodes {
  readonly issued: IssuedCode[] = [];
  constructor(private readonly sessions: FakeSessions) {}

  async issueForSession(c: NewAuthorizationCode, verified: readonly string[], extendUntil: Date | null, now: Date): Promise<string | undefined> {
    const s = this.sessions.byId.get(c.authSession);
    const t = now.getTime();
    if (!s || s.status !== 'active' || s.expiresAt.getTime() <= t || s.absoluteExpiresAt.getTime() <= t || (s.user && s.user.userId !== c.userId)) return undefined;
    const expiresAt = extendUntil === null ? s.expiresAt : new Date(Math.min(s.absoluteExpiresAt.getTime(), Math.max(s.expiresAt.getTime(), extendUntil.getTime())));
    this.sessions.add({ ...s, expiresAt, user: { userId: c.userId, authTime: c.authTime, amr: c.amr, acr: c.acr, verified } });
    const code = randomToken(32);
    this.issued.push({ ...c, code, verified, extendUntil, now });
    return code;
  }
}

/** DeliveryService: what was reserved, sent and released; `failSend` / `refuseReserve` make it fail. */
export class FakeDelivery {
  readonly log: string[] = [];
  readonly sent: Delivery[] = [];
  failSend: Error | undefined;
  refuseReserve: Error | undefined;
  /** Runs inside `send`, before it succeeds or fails (to look at the flow store at that moment). */
  onSend: (() => Promise<void>) | undefined;

  async reserve(d: Delivery, method: string, clientId: string): Promise<Reservation> {
    if (this.refuseReserve) throw this.refuseReserve;
    this.log.push(`reserve ${method} ${d.to} ${clientId}`);
    return { release: async () => void this.log.push(`release ${d.to}`) };
  }
  async send(d: Delivery): Promise<void> {
    await this.onSend?.();
    if (this.failSend) throw this.failSend;
    this.log.push(`send ${d.to}`);
    this.sent.push(d);
  }
}

export class FakeAudit {
  readonly events: AuditEvent[] = [];
  record(event: AuditEvent): void {
    this.events.push(event);
  }
}
