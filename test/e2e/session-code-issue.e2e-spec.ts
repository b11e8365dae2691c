import { type DynamicModule, Module } from '@nestjs/common';
import { ClientsModule } from '@fpa/clients';
import type { AppConfig } from '@fpa/config';
import { randomToken } from '@fpa/crypto';
import { PlatformModule } from '@fpa/platform';
import { AuthorizationCodeService, DeviceSessionRepository, SessionModule, type DeviceSession, type NewAuthorizationCode } from '@fpa/session';
import { UsersModule, UsersService } from '@fpa/users';
import { DEVICE_CLIENT } from '@fpa/testing';
import { startApp, type RunningApp } from '@fpa/testing/app';

const NOW = new Date(Date.UTC(2027, 0, 15, 8, 0, 0));
const after = (seconds: number): Date => new Date(NOW.getTime() + seconds * 1000);
const CLIENT = { ...DEVICE_CLIENT, client_id: 'code-app', grant_types: ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code'] };

@Module({})
class SessionsOnPostgresModule {
  static forRoot(config: AppConfig): DynamicModule {
    return { module: SessionsOnPostgresModule, imports: [PlatformModule.forRoot(config), ClientsModule, UsersModule, SessionModule] };
  }
}

/**
 * Issue 7, finding 5, on PostgreSQL: the one statement that issues a code for a satisfied request,
 * records the session's user and extends the session — only with `extendUntil`, never past its
 * absolute lifetime — and writes nothing at all for a session that is expired, revoked or another
 * user's. Time is the explicit `now`; nothing sleeps.
 */
describe('AuthorizationCodeService.issueForSession on PostgreSQL', () => {
  let suite: RunningApp;
  let codes: AuthorizationCodeService;
  let sessions: DeviceSessionRepository;
  let ann: string;
  let bob: string;

  beforeAll(async () => {
    suite = await startApp({ label: 'sessioncode', module: (c) => SessionsOnPostgresModule.forRoot(c), overrides: { AUTHORIZATION_CODE_TTL_SECONDS: '60' } });
    await suite.createClient(CLIENT);
    codes = suite.get(AuthorizationCodeService);
    sessions = suite.get(DeviceSessionRepository);
    const users = suite.get(UsersService);
    ann = (await users.resolve({ type: 'email', value: 'ann@example.com' }, NOW))!.id;
    bob = (await users.resolve({ type: 'email', value: 'bob@example.com' }, NOW))!.id;
  });
  afterAll(async () => suite?.close());

  /** A challenge session created at NOW - 10 s: idle expiry `expiresIn` s from NOW, absolute end `absoluteIn` s from NOW. */
  const newSession = async (expiresIn: number, absoluteIn: number): Promise<string> => {
    const authSession = randomToken(32);
    await sessions.create({
      authSession,
      clientId: CLIENT.client_id,
      keyJkt: 'jkt-1',
      publicJwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' },
      keyAlg: 'dpop',
      createdAt: after(-10),
      expiresAt: after(expiresIn),
      absoluteExpiresAt: after(absoluteIn),
      registeredIp: '203.0.113.9',
      kind: 'challenge',
    });
    return authSession;
  };
  const code = (authSession: string, userId = ann): NewAuthorizationCode => ({
    clientId: CLIENT.client_id,
    authSession,
    userId,
    dpopJkt: 'jkt-1',
    codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    scope: 'openid',
    resource: null,
    acr: 'urn:first-party-auth:acr:email',
    amr: ['otp', 'email'],
    authTime: after(-5),
    redirectUri: null,
    authorizationDetails: null,
  });
  const session = async (authSession: string): Promise<DeviceSession> => (await sessions.find(authSession))!;
  const codesOf = async (authSession: string): Promise<number> =>
    Number((await suite.env.db.query<{ n: string }>('SELECT count(*) AS n FROM authorization_codes WHERE auth_session = $1', [authSession]))[0].n);

  it('issues the code, records the user with acr/amr/auth_time/verified, and extends the session to extendUntil', async () => {
    const s = await newSession(60, 3600);
    const issued = await codes.issueForSession(code(s), ['email'], after(1800), NOW);
    expect(issued).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await session(s)).toMatchObject({
      expiresAt: after(1800),
      absoluteExpiresAt: after(3600),
      user: { userId: ann, authTime: after(-5), amr: ['otp', 'email'], acr: 'urn:first-party-auth:acr:email', verified: ['email'] },
    });
    await expect(codes.find(issued!)).resolves.toMatchObject({ ...code(s), expiresAt: after(60), consumedAt: null });
  });

  it('never extends past absolute_expires_at', async () => {
    const s = await newSession(60, 3600);
    await expect(codes.issueForSession(code(s), [], after(7200), NOW)).resolves.toBeDefined();
    expect((await session(s)).expiresAt).toEqual(after(3600));
  });

  it('without extendUntil (no interaction in this flow) the expiry stays where it was', async () => {
    const s = await newSession(60, 3600);
    await expect(codes.issueForSession(code(s), [], null, NOW)).resolves.toBeDefined();
    expect((await session(s)).expiresAt).toEqual(after(60));
  });

  it('an extendUntil before the current expiry shortens nothing', async () => {
    const s = await newSession(600, 3600);
    await codes.issueForSession(code(s), [], after(300), NOW);
    expect((await session(s)).expiresAt).toEqual(after(600));
  });

  it('the same user may be issued another code in the session', async () => {
    const s = await newSession(60, 3600);
    await codes.issueForSession(code(s), [], after(120), NOW);
    await expect(codes.issueForSession(code(s), [], after(240), after(100))).resolves.toBeDefined();
    expect(await codesOf(s)).toBe(2);
    expect((await session(s)).expiresAt).toEqual(after(240));
  });

  describe('refusals write nothing', () => {
    const untouched = async (s: string, expiresAt: Date): Promise<void> => {
      expect(await codesOf(s)).toBe(0);
      expect(await session(s)).toMatchObject({ expiresAt, user: undefined });
    };

    it('an idle-expired session (expires_at reached), even with extendUntil', async () => {
      const s = await newSession(0, 3600);
      await expect(codes.issueForSession(code(s), ['email'], after(1800), NOW)).resolves.toBeUndefined();
      await untouched(s, after(0));
    });

    it('a session past its absolute lifetime', async () => {
      const s = await newSession(60, 3600);
      await expect(codes.issueForSession(code(s), [], after(7200), after(3600))).resolves.toBeUndefined();
      await untouched(s, after(60));
    });

    it('a revoked session', async () => {
      const s = await newSession(60, 3600);
      await sessions.revoke(s, NOW);
      await expect(codes.issueForSession(code(s), [], after(1800), NOW)).resolves.toBeUndefined();
      expect(await codesOf(s)).toBe(0);
      expect(await session(s)).toMatchObject({ status: 'revoked', expiresAt: after(60), user: undefined });
    });

    it("a session that belongs to another user", async () => {
      const s = await newSession(60, 3600);
      await codes.issueForSession(code(s, ann), ['email'], after(120), NOW);
      await expect(codes.issueForSession(code(s, bob), [], after(1800), NOW)).resolves.toBeUndefined();
      expect(await codesOf(s)).toBe(1);
      expect(await session(s)).toMatchObject({ expiresAt: after(120), user: { userId: ann, verified: ['email'] } });
    });

    it('an unknown session', async () => {
      const s = randomToken(32);
      await expect(codes.issueForSession(code(s), [], after(1800), NOW)).resolves.toBeUndefined();
      expect(await codesOf(s)).toBe(0);
    });
  });

  it('a session is created no longer than its absolute lifetime', async () => {
    const s = await newSession(7200, 3600);
    expect((await session(s)).expiresAt).toEqual(after(3600));
  });
});
