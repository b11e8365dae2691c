import { type DynamicModule, Module } from '@nestjs/common';
import type { AppConfig } from '@fpa/config';
import { randomToken } from '@fpa/crypto';
import { PlatformModule } from '@fpa/platform';
import { UsersModule, UsersService, type Enrolment, type NewAuthenticationRecord } from '@fpa/users';
import { startApp, type RunningApp } from '@fpa/testing/app';

const NOW = new Date(Date.UTC(2027, 0, 15, 8, 0, 0));
const after = (seconds: number): Date => new Date(NOW.getTime() + seconds * 1000);
const ENROLMENT: Enrolment = { flowId: 'flow-1', provisional: true, basisRank: 1, by: 'authentication', trustedAfter: null };

@Module({})
class UsersOnPostgresModule {
  static forRoot(config: AppConfig): DynamicModule {
    return { module: UsersOnPostgresModule, imports: [PlatformModule.forRoot(config), UsersModule] };
  }
}

/**
 * What the interaction core's fakes (libs/interaction/src/testing/fakes.ts) assume of UsersService,
 * checked on PostgreSQL: one user per verified address, even under races; a credential counter that
 * only moves forward, once; events newest first with what they proved; secrets encrypted at rest.
 */
describe('UsersService on PostgreSQL', () => {
  let suite: RunningApp;
  let users: UsersService;

  beforeAll(async () => {
    suite = await startApp({ label: 'usersservice', module: (c) => UsersOnPostgresModule.forRoot(c), overrides: { DATABASE_POOL_SIZE: '10' } });
    users = suite.get(UsersService);
  });
  afterAll(async () => suite?.close());

  const userWith = async (email: string): Promise<string> => (await users.resolve({ type: 'email', value: email }, NOW))!.id;

  it('one user per verified address, even when ten sessions verify it at once', async () => {
    const ids = await Promise.all(Array.from({ length: 10 }, () => users.resolve({ type: 'email', value: 'race@example.com' }, NOW)));
    expect(new Set(ids.map((u) => u!.id)).size).toBe(1);
    expect(ids[0]).toMatchObject({ email: 'race@example.com', emailVerified: true, phone: null, phoneVerified: false });
    await expect(users.resolve({ type: 'user', id: ids[0]!.id }, NOW)).resolves.toEqual(ids[0]);
    await expect(users.find('not-a-uuid')).resolves.toBeUndefined();
  });

  it('a credential counter moves forward only: the same TOTP step or sign count counts once, even racing', async () => {
    const ann = await userWith('counter@example.com');
    await users.addCredential(ann, { method: 'totp', credentialId: `t-${randomToken(8)}`, publicData: {}, secret: 'S3CRET', counter: 10 }, ENROLMENT, NOW);
    const [cred] = await users.credentials(ann, 'totp');
    const racing = await Promise.all(Array.from({ length: 8 }, () => users.recordCredentialUse('totp', cred.credentialId, NOW, 11)));
    expect(racing.filter(Boolean)).toHaveLength(1);
    await expect(users.recordCredentialUse('totp', cred.credentialId, NOW, 11)).resolves.toBe(false);
    await expect(users.recordCredentialUse('totp', cred.credentialId, NOW, 9)).resolves.toBe(false);
    await expect(users.recordCredentialUse('totp', cred.credentialId, NOW, 12)).resolves.toBe(true);
    // Without a counter (a passkey whose authenticator keeps none), every use is recorded.
    await expect(users.recordCredentialUse('totp', cred.credentialId, NOW)).resolves.toBe(true);
    await expect(users.recordCredentialUse('totp', 'unknown', NOW)).resolves.toBe(false);
  });

  it('stores how a credential was enrolled, refuses a second registration of its id, and promotes it', async () => {
    const ann = await userWith('enrol@example.com');
    const id = `k-${randomToken(8)}`;
    const recovered: Enrolment = { flowId: 'flow-9', provisional: true, basisRank: 1, by: 'recovery', trustedAfter: after(86_400) };
    await expect(users.addCredential(ann, { method: 'passkey', credentialId: id, publicData: { alg: -7 } }, recovered, NOW)).resolves.toBe(true);
    await expect(users.addCredential(await userWith('thief@example.com'), { method: 'passkey', credentialId: id, publicData: {} }, ENROLMENT, NOW)).resolves.toBe(false);
    await expect(users.credential('passkey', id)).resolves.toMatchObject({ userId: ann, publicData: { alg: -7 }, provisional: true, enrolledFlow: 'flow-9', trustedAfterMs: after(86_400).getTime(), basisRank: 1 });
    await users.promoteCredential('passkey', id);
    await expect(users.heldCredentials(ann)).resolves.toEqual([expect.objectContaining({ credentialId: id, provisional: false })]);
  });

  it('keeps a credential secret encrypted at rest and gives it back decrypted', async () => {
    const ann = await userWith('secret@example.com');
    const id = `t-${randomToken(8)}`;
    await users.addCredential(ann, { method: 'totp', credentialId: id, publicData: {}, secret: 'JBSWY3DPEHPK3PXP' }, ENROLMENT, NOW);
    const [row] = await suite.env.db.query<{ secret_jwe: string }>('SELECT secret_jwe FROM user_credentials WHERE credential_id = $1', [id]);
    expect(row.secret_jwe).not.toContain('JBSWY3DPEHPK3PXP');
    expect(row.secret_jwe.split('.')).toHaveLength(5);
    await expect(users.credential('totp', id)).resolves.toMatchObject({ secret: 'JBSWY3DPEHPK3PXP' });
    await expect(users.heldCredentials(ann)).resolves.toEqual([expect.not.objectContaining({ secret: expect.anything() })]);
  });

  it("a session's authentications: newest first (ties in insertion order, newest first), with what each proved", async () => {
    const ann = await userWith('events@example.com');
    const authSession = randomToken(32);
    const record = (over: Partial<NewAuthenticationRecord>): Promise<void> =>
      users.recordAuthentication({
        userId: ann,
        authSession,
        method: 'email_otp',
        amr: ['otp', 'email'],
        verifiedValue: 'events@example.com',
        at: NOW,
        flowId: 'flow-1',
        factor: 'email_otp',
        factors: 1,
        phishingResistant: false,
        verifies: 'email',
        credentialId: null,
        counted: true,
        ...over,
      });
    await record({ at: after(-60), flowId: null });
    await record({ method: 'passkey', amr: ['hwk', 'user', 'mfa'], factor: 'passkey', factors: 2, phishingResistant: true, verifies: null, credentialId: 'k', counted: false });
    await record({ method: 'totp', amr: ['otp'], factor: 'totp', verifies: null, credentialId: 't' });
    await record({ authSession: randomToken(32) });
    const events = await users.sessionAuthentications(authSession);
    expect(events.map((e) => e.method)).toEqual(['totp', 'passkey', 'email_otp']);
    expect(events[1]).toEqual({ method: 'passkey', amr: ['hwk', 'user', 'mfa'], userId: ann, authenticatedAt: NOW, flowId: 'flow-1', factor: 'passkey', factors: 2, phishingResistant: true, verifies: null, credentialId: 'k', counted: false });
    expect(events[2]).toMatchObject({ authenticatedAt: after(-60), flowId: null, verifies: 'email', counted: true });
  });

  it('resolveAndRecord: the user of a verified address (found or created) and its authentication in one statement, one user even racing', async () => {
    const record = (authSession: string): Omit<NewAuthenticationRecord, 'userId'> => ({
      authSession,
      method: 'sms_otp',
      amr: ['otp', 'sms'],
      verifiedValue: '+15550001111',
      at: after(5),
      flowId: 'flow-9',
      factor: 'sms_otp',
      factors: 1,
      phishingResistant: false,
      verifies: 'phone',
      credentialId: null,
      counted: true,
    });
    const sessions = Array.from({ length: 5 }, () => randomToken(32));
    const resolved = await Promise.all(sessions.map((s) => users.resolveAndRecord({ type: 'phone', value: '+15550001111' }, NOW, record(s))));
    expect(new Set(resolved.map((u) => u.id)).size).toBe(1);
    expect(resolved[0]).toMatchObject({ phone: '+15550001111', phoneVerified: true, email: null, emailVerified: false });
    for (const s of sessions) {
      expect(await users.sessionAuthentications(s)).toEqual([
        { method: 'sms_otp', amr: ['otp', 'sms'], userId: resolved[0].id, authenticatedAt: after(5), flowId: 'flow-9', factor: 'sms_otp', factors: 1, phishingResistant: false, verifies: 'phone', credentialId: null, counted: true },
      ]);
    }
    // An existing user (by email) is found, not duplicated.
    const ann = await userWith('both@example.com');
    await expect(users.resolveAndRecord({ type: 'email', value: 'both@example.com' }, NOW, { ...record(randomToken(32)), verifies: 'email' })).resolves.toMatchObject({ id: ann });
  });
});
