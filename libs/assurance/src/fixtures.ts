import type { AuthEvent, MethodProfile } from './events';

/** What the built-in methods prove (their `assurance` declarations), for specs of the pure functions. */
export const PROFILES: Record<'email_otp' | 'sms_otp' | 'totp' | 'passkey', MethodProfile> = {
  email_otp: { id: 'email_otp', amr: ['otp', 'email'], factor: 'email_otp', phishingResistant: false, multiFactorCapable: false, verifies: 'email' },
  sms_otp: { id: 'sms_otp', amr: ['otp', 'sms'], factor: 'sms_otp', phishingResistant: false, multiFactorCapable: false, verifies: 'phone' },
  totp: { id: 'totp', amr: ['otp'], factor: 'totp', phishingResistant: false, multiFactorCapable: false },
  passkey: { id: 'passkey', amr: ['hwk', 'user'], factor: 'passkey', phishingResistant: true, multiFactorCapable: true },
};

export type MethodId = keyof typeof PROFILES;

/** An event of a built-in method at `atMs`; `uv` makes a passkey event two factors. */
export function event(method: MethodId, atMs: number, options: { uv?: boolean; counted?: boolean } = {}): AuthEvent {
  const p = PROFILES[method];
  return {
    method,
    amr: method === 'passkey' && options.uv ? [...p.amr, 'mfa'] : p.amr,
    atMs,
    factor: p.factor,
    factors: method === 'passkey' && options.uv ? 2 : 1,
    phishingResistant: p.phishingResistant,
    ...(p.verifies ? { verifies: p.verifies } : {}),
    credentialBound: method === 'totp' || method === 'passkey',
    counted: options.counted ?? true,
  };
}
