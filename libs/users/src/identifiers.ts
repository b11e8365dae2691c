/** Normalised identifiers: the same person must not get two accounts through case or spacing. */

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}\.[^\s@]{2,63}$/;
const E164 = /^\+[1-9]\d{6,14}$/;

export function normalizeEmail(input: string): string | undefined {
  const v = input.trim().toLowerCase();
  return v.length <= 320 && EMAIL.test(v) ? v : undefined;
}

/** E.164 only (`+` and 7–15 digits); spaces, dashes and parentheses are tolerated on input. */
export function normalizePhone(input: string): string | undefined {
  const v = input.trim().replace(/[\s().-]/g, '');
  return E164.test(v) ? v : undefined;
}

/** `a***e@example.com` — enough for the user to recognise, not enough to harvest. */
export function maskEmail(email: string): string {
  const [local, domain] = email.split('@');
  const shown = local.length <= 2 ? `${local[0]}*` : `${local[0]}${'*'.repeat(Math.min(6, local.length - 2))}${local.at(-1)}`;
  return `${shown}@${domain}`;
}

/** `+44******1234`; short numbers show only their last two digits. */
export function maskPhone(phone: string): string {
  const shown = phone.length >= 11 ? 4 : 2;
  const prefix = phone.length >= 11 ? phone.slice(0, 3) : '+';
  return `${prefix}${'*'.repeat(Math.max(1, phone.length - prefix.length - shown))}${phone.slice(-shown)}`;
}
