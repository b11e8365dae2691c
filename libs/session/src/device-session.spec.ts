import type { DeviceSession } from './device-session.entity';
import { isUsable } from './device-session.entity';

const NOW = 1_800_000_000_000;
const session = (overrides: Partial<DeviceSession> = {}): DeviceSession => ({
  authSession: 'a'.repeat(43),
  clientId: 'native-app',
  keyJkt: 'jkt',
  publicJwk: { kty: 'EC' },
  keyAlg: 'ES256',
  status: 'active',
  createdAt: new Date(NOW - 3_600_000),
  expiresAt: new Date(NOW + 60_000),
  absoluteExpiresAt: new Date(NOW + 120_000),
  kind: 'device',
  user: undefined,
  ...overrides,
});

describe('isUsable: active, within its idle expiry and its absolute lifetime (issue 7 finding 5)', () => {
  it('an active session before both ends is usable', () => {
    expect(isUsable(session(), NOW)).toBe(true);
    expect(isUsable(session(), NOW + 59_999)).toBe(true);
  });

  it('idle expiry: unusable from the instant expires_at is reached', () => {
    expect(isUsable(session(), NOW + 60_000)).toBe(false);
    expect(isUsable(session(), NOW + 60_001)).toBe(false);
  });

  it('absolute lifetime: unusable once absolute_expires_at is reached, whatever expires_at says', () => {
    const slid = session({ expiresAt: new Date(NOW + 86_400_000), absoluteExpiresAt: new Date(NOW + 1000) });
    expect(isUsable(slid, NOW + 999)).toBe(true);
    expect(isUsable(slid, NOW + 1000)).toBe(false);
  });

  it('revoked: unusable at once, with time left on both clocks', () => {
    expect(isUsable(session({ status: 'revoked' }), NOW)).toBe(false);
  });
});
