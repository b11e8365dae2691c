import { domainToASCII, domainToUnicode } from 'node:url';

/**
 * Normalised identifiers. A verified e-mail address or phone number finds or creates the user, and
 * the normalised value is also what the messages are sent to, so each function must map every
 * spelling of one mailbox or line to one value — and refuse, rather than map, anything a mailer or
 * SMS provider could read as a different destination (issue 7, finding 9).
 */

/** RFC 5322 §3.2.3 `atext`; `dot-atom-text` = 1*atext *("." 1*atext). ASCII only: no SMTPUTF8 local parts. */
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
/** RFC 1035 §2.3.1 / RFC 5890 §2.3.1 LDH label (lower case after IDNA), 1–63 octets. */
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/**
 * Invisible or layout characters: control (Cc), format (Cf), separators (Z, whitespace) and
 * default-ignorables that UTS #46 would silently drop. ZWJ / ZWNJ are left to UTS #46 CheckJoiners
 * (RFC 5892 CONTEXTJ), since some scripts need them.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Z}\p{Default_Ignorable_Code_Point}]/u;
const JOINERS = /[\u200c\u200d]/g;

/** RFC 5321 §4.5.3.1.1 (local part), §4.5.3.1.3 (a path is ≤ 256 octets with its angle brackets). */
const MAX_LOCAL = 64;
const MAX_ADDRESS = 254;
/** RFC 1035 §2.3.4: 255 octets on the wire = 253 characters in text form without the root dot. */
const MAX_DOMAIN = 253;

/**
 * An RFC 5321 `Mailbox` in its plain form: `dot-atom@domain`. Refused: display names, angle
 * brackets, groups and lists (RFC 5322 §3.4), quoted local parts and comments, address literals
 * (`[1.2.3.4]`), a trailing root dot, whitespace (but for spaces around the whole address) and
 * control or invisible characters, non-ASCII local parts. The domain is NFC-normalised and converted with IDNA (UTS #46, as WHATWG URLs do) to its
 * lower-case A-label form, so `User@Bücher.Example` and `user@xn--bcher-kva.example` are one
 * identifier. The local part is lower-cased: the suite treats addresses case-insensitively.
 */
export function normalizeEmail(input: string): string | undefined {
  if (typeof input !== 'string' || input.length > 4 * MAX_ADDRESS) return undefined;
  // Spaces around the address (a pasted value) are tolerated; any other whitespace is refused.
  const v = input.replace(/^ +| +$/g, '');
  if (INVISIBLE.test(v.replace(JOINERS, ''))) return undefined;
  const at = v.indexOf('@');
  // Exactly one `@`: a dot-atom cannot contain one, so a second is a quoted string, a route or a list.
  if (at < 0 || at !== v.lastIndexOf('@')) return undefined;
  const local = v.slice(0, at);
  const domain = normalizeDomain(v.slice(at + 1));
  if (local.length > MAX_LOCAL || !DOT_ATOM.test(local) || domain === undefined) return undefined;
  const address = `${local.toLowerCase()}@${domain}`;
  return address.length <= MAX_ADDRESS ? address : undefined;
}

/** A mail domain as lower-case A-labels (RFC 5890), or undefined when it is not a plain host name. */
function normalizeDomain(raw: string): string | undefined {
  const nfc = raw.normalize('NFC');
  // The ASCII that may appear in a host name: LDH and the dot. Anything else would either be refused
  // later or, worse, rewritten by the WHATWG host parser first (`ex%61mple.com` → `example.com`).
  for (const ch of nfc) if (ch <= '\u007f' && !/[A-Za-z0-9.-]/.test(ch)) return undefined;
  const ascii = domainToASCII(nfc);
  if (ascii === '' || ascii.length > MAX_DOMAIN) return undefined;
  const labels = ascii.split('.');
  // An empty label is a trailing root dot (also after UTS #46 maps `。`), a leading dot or `..`.
  if (labels.length < 2 || !labels.every((l) => LDH_LABEL.test(l))) return undefined;
  // RFC 5891 §4.2.3.1: `--` in positions 3–4 is reserved for A-labels.
  if (labels.some((l) => l.slice(2, 4) === '--' && !l.startsWith('xn--'))) return undefined;
  // RFC 3696 §2: a top-level domain is never all-numeric (this also rules out IPv4 in any spelling).
  if (!/[a-z]/.test(labels.at(-1)!)) return undefined;
  // An A-label must be the canonical encoding of its U-label: `xn--bcher-kva-` decodes to plain
  // ASCII and would otherwise be a second spelling of `bcher-kva`.
  if (domainToASCII(domainToUnicode(ascii)) !== ascii) return undefined;
  return ascii;
}

const E164 = /^\+[1-9]\d{6,14}$/;
const MAX_PHONE_INPUT = 32;

/**
 * ITU-T E.164 in its `+<country code><number>` form: 7–15 ASCII digits, no leading zero in the
 * country code. Readability separators are tolerated on input — ASCII space, `-`, `.`, `(`, `)` —
 * and removed; everything else is refused: other whitespace and control characters, letters and
 * extensions (`x12`, `;ext=`), a `00` or missing international prefix, non-ASCII digits, and the
 * national trunk prefix written as `(0)` (`+44 (0)20…` would otherwise become `+44020…`, a
 * different number that a provider may still deliver to the same line).
 */
export function normalizePhone(input: string): string | undefined {
  if (typeof input !== 'string' || input.length > MAX_PHONE_INPUT || !/^[+0-9 ().-]+$/.test(input)) return undefined;
  if (/\(\s*0\s*\)/.test(input)) return undefined;
  const v = input.replace(/[ ().-]/g, '');
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
