/**
 * What a text value from outside must be before anything looks it up, compares it or stores it:
 * the one rule the HTTP readers (forms, JSON, the Basic credential), the JWT decoders and the
 * persistence layer's last line share, so a value one of them lets through is one every store can
 * hold unchanged.
 *
 * - **No control characters** but HT, LF and CR: NUL cannot be stored by PostgreSQL (`text`: error
 *   22021; `jsonb`: 22P05) and no OAuth parameter uses C0, DEL or C1 controls (RFC 6749 Appendix A:
 *   VSCHAR, NQCHAR and NQSCHAR are all within %x20-7E). HT, LF and CR are kept because a PEM public
 *   key (RFC 7468 §2, accepted at registration) and a pretty-printed JSON text contain line breaks.
 * - **Well-formed UTF-16** (no lone surrogates): a lone surrogate has no UTF-8 encoding; the
 *   PostgreSQL and Redis drivers silently turn it into U+FFFD, so two different values would
 *   become one key.
 * - **No U+FFFD**: it is what a decoder leaves of bytes that were not UTF-8 (a form or JSON body
 *   with invalid UTF-8); no parameter carries it on purpose.
 * - **A length cap**: MAX_TEXT_LENGTH for any value (the largest JWT the suite decodes), tighter
 *   caps per parameter or claim where they exist.
 */

export type TextFault = 'length' | 'control' | 'surrogate' | 'replacement';

/** The longest text value accepted anywhere (characters): the largest JWT the suite decodes. */
export const MAX_TEXT_LENGTH = 16_384;

export interface TextRules {
  /** Longest accepted value in UTF-16 code units. Default MAX_TEXT_LENGTH. */
  readonly max?: number;
  /** Keep HT, LF and CR (default true); identifiers and JWT claims used as keys take none. */
  readonly lineBreaks?: boolean;
}

// C0 but HT (09), LF (0A), CR (0D); DEL; C1 (80-9F).
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const ANY_CONTROL = /[\u0000-\u001F\u007F-\u009F]/;
// With the u flag a surrogate class matches only surrogates that are not part of a pair.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Why `value` may not be used, or undefined when it may. */
export function textFault(value: string, rules: TextRules = {}): TextFault | undefined {
  if (value.length > (rules.max ?? MAX_TEXT_LENGTH)) return 'length';
  if ((rules.lineBreaks === false ? ANY_CONTROL : CONTROL).test(value)) return 'control';
  if (LONE_SURROGATE.test(value)) return 'surrogate';
  if (value.includes('\uFFFD')) return 'replacement';
  return undefined;
}

/** Rules for identifiers used as lookup keys (client ids, session handles, `jti`, `kid`). */
export const IDENTIFIER_RULES: TextRules = { max: 1024, lineBreaks: false };

/** A short, safe phrase for an error_description (never the value itself). */
export function describeTextFault(fault: TextFault): string {
  switch (fault) {
    case 'length':
      return 'is too long';
    case 'control':
      return 'contains a control character';
    case 'surrogate':
      return 'is not well-formed Unicode';
    case 'replacement':
      return 'is not valid UTF-8';
  }
}

/** JSON nesting accepted in a request body (a WebAuthn response needs 4). */
export const MAX_JSON_DEPTH = 16;

export interface JsonFault {
  readonly fault: TextFault | 'depth' | 'name';
  /** Where: `credential.response.clientDataJSON`, `credential[3]` (names are checked before they are shown). */
  readonly path: string;
}

/**
 * Walks a parsed JSON value (iteratively: a 64 kB body can nest thousands deep) and reports the
 * first string or member name that breaks TextRules, or nesting beyond `maxDepth`.
 */
export function jsonFault(value: unknown, rootPath: string, rules: TextRules = {}, maxDepth = MAX_JSON_DEPTH): JsonFault | undefined {
  const stack: { v: unknown; path: string; depth: number }[] = [{ v: value, path: rootPath, depth: 0 }];
  while (stack.length > 0) {
    const { v, path, depth } = stack.pop()!;
    if (typeof v === 'string') {
      const fault = textFault(v, rules);
      if (fault) return { fault, path };
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= maxDepth) return { fault: 'depth', path };
    if (Array.isArray(v)) {
      v.forEach((item, i) => stack.push({ v: item, path: `${path}[${i}]`, depth: depth + 1 }));
      continue;
    }
    for (const [name, item] of Object.entries(v as Record<string, unknown>)) {
      if (textFault(name, IDENTIFIER_RULES)) return { fault: 'name', path };
      stack.push({ v: item, path: `${path}.${safeName(name)}`, depth: depth + 1 });
    }
  }
  return undefined;
}

/** A parameter or member name as it may appear in an error_description (RFC 6749 §5.2 charset). */
export function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '?').slice(0, 64);
}
