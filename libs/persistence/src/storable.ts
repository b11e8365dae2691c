import { type BeforeQueryEvent, type EntitySubscriberInterface, EventSubscriber } from 'typeorm';
import { OAuthError, STORE_INPUT } from '@fpa/oauth-core';

/**
 * The last line before PostgreSQL (issue 8): whatever the HTTP readers and JWT decoders missed, a
 * statement never carries a value PostgreSQL cannot hold unchanged. Every input should have been
 * refused long before (oauth-core input-text.ts); reaching this is a gap upstream, so it is a 400
 * that the exception filter logs at `warn`, never a 500 from the driver.
 *
 * What PostgreSQL cannot hold:
 * - NUL in `text` (error 22021) — and, inside a JSON text bound for `jsonb`, the escape `\u0000` (22P05);
 * - a lone UTF-16 surrogate, raw (the driver would store U+FFFD instead: another value) or escaped
 *   in a JSON text (22P05).
 * Parameters are walked recursively (arrays become PostgreSQL arrays, objects JSON); Buffers and
 * Dates are left alone.
 */

// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const NUL_OR_LONE_SURROGATE = /[\u0000\uD800-\uDFFF]/u;
// eslint-disable-next-line no-control-regex -- the same class, every occurrence
const UNSTORABLE_CHARS = /[\u0000\uD800-\uDFFF]/gu;
// In a JSON text: \u0000, or a \uD8xx-\uDBxx escape not followed by a \uDCxx-\uDFxx escape, or a
// \uDCxx-\uDFxx escape not preceded by a \uD8xx-\uDBxx one. (An escaped backslash before `u` is
// not an escape; that rare text is refused too, which is safe.)
const HIGH = String.raw`\\u[dD][89abAB][0-9a-fA-F]{2}`;
const LOW = String.raw`\\u[dD][c-fC-F][0-9a-fA-F]{2}`;
const JSON_BAD_ESCAPE = new RegExp(String.raw`\\u0000|${HIGH}(?!${LOW})|(?<!${HIGH})${LOW}`);
const MAX_DEPTH = 32;

/** Where the first parameter PostgreSQL cannot hold is (`$2`, `$3[1].name`), or undefined. */
export function unstorableParameter(params: readonly unknown[]): string | undefined {
  const stack: { v: unknown; path: string; depth: number }[] = params.map((v, i) => ({ v, path: `$${i + 1}`, depth: 0 }));
  while (stack.length > 0) {
    const { v, path, depth } = stack.pop()!;
    if (typeof v === 'string') {
      if (NUL_OR_LONE_SURROGATE.test(v)) return path;
      if ((v.startsWith('{') || v.startsWith('[')) && v.includes('\\u') && JSON_BAD_ESCAPE.test(v)) return path;
      continue;
    }
    if (v === null || typeof v !== 'object' || v instanceof Date || Buffer.isBuffer(v) || ArrayBuffer.isView(v)) continue;
    // Deeper than anything the suite stores: refuse rather than walk an attacker's structure.
    if (depth >= MAX_DEPTH) return path;
    if (Array.isArray(v)) v.forEach((item, i) => stack.push({ v: item, path: `${path}[${i}]`, depth: depth + 1 }));
    else {
      for (const [name, item] of Object.entries(v as Record<string, unknown>)) {
        if (NUL_OR_LONE_SURROGATE.test(name)) return path;
        stack.push({ v: item, path: `${path}.${name.replace(/[^A-Za-z0-9_]/g, '?').slice(0, 32)}`, depth: depth + 1 });
      }
    }
  }
  return undefined;
}

/**
 * For records that must be written whatever they quote (the audit trail): the same text with NUL
 * and lone surrogates replaced by U+FFFD, so one odd value cannot refuse (and, retried, block)
 * a whole batch.
 */
export function storableText(value: string): string {
  return NUL_OR_LONE_SURROGATE.test(value) ? value.replace(UNSTORABLE_CHARS, '\uFFFD') : value;
}

/** Throws `invalid_request` (reason `store_input`) instead of sending what PostgreSQL cannot hold. */
export function assertStorable(params: readonly unknown[] | undefined): void {
  if (!params || params.length === 0) return;
  const at = unstorableParameter(params);
  if (at !== undefined) {
    // The position (never the value) goes to the warn log line through `cause`.
    throw new OAuthError('invalid_request', 'a parameter holds characters that cannot be stored', { reason: STORE_INPUT, cause: new Error(`unstorable parameter ${at}`) });
  }
}

/**
 * The same check for every statement TypeORM sends (repositories, query builders, transactions):
 * `beforeQuery` runs before the driver is called, and what it throws is what the query rejects with.
 * (TypeORM instantiates only decorated subscribers, and only for DataSources that list them.)
 */
@EventSubscriber()
export class StorableParametersSubscriber implements EntitySubscriberInterface {
  beforeQuery(event: BeforeQueryEvent<unknown>): void {
    assertStorable(event.parameters);
  }
}
