import fc from 'fast-check';

/**
 * Hostile values: the boundaries and character classes that broke servers before (issue 8: NUL
 * reached PostgreSQL), plus random text over every code point, lone surrogates included.
 */

/** Lengths around every cap the suite has: 128 (client ids), 256 (jti), 1024 (identifiers), 2048, 8192 (DPoP), 16384 (any value). */
const BOUNDARY_LENGTHS = [0, 1, 43, 127, 128, 129, 255, 256, 257, 1023, 1024, 1025, 2047, 2048, 2049, 8191, 8192, 8193, 16_384, 16_385, 40_000];

const SPECIALS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '%00',
  '\u0001',
  '\u001b[31m',
  '\u007f',
  '\u0085',
  '\u009b',
  '\t',
  '\r\n',
  'x\r\nX-Injected: 1',
  '\r\n\r\n<html>',
  '\uD800',
  '\uDBFF\uDBFF',
  'a\uDC00',
  '\uFFFD',
  '\uFFFE',
  '\u202E',
  '\u200B',
  '😀',
  'Bücher',
  '%',
  '%zz',
  '%ED%A0%80',
  '%C0%80',
  '+',
  '&',
  '=',
  '"',
  "'",
  '\\',
  "' OR 1=1 --",
  '"; DROP TABLE clients; --',
  '${jndi:ldap://x/a}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  '../../../../etc/passwd',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'null',
  'undefined',
  'true',
  '-1',
  '0',
  '1e309',
  'NaN',
  '9007199254740993',
  '[]',
  '{}',
  '{"a":',
  'native-app',
  'https://api.example.com',
  'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
];

/** A string built to hit a boundary: one of the specials, or a filler of a cap's length with a special at one end. */
const boundaryString: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom(...BOUNDARY_LENGTHS), fc.constantFrom('a', '0', '%', '\u0000', '😀', 'é'), fc.constantFrom('', '\u0000', '\uD800', 'x'))
  .map(([n, fill, tail]) => fill.repeat(Math.max(0, Math.ceil(n / fill.length))).slice(0, n) + tail);

/** Any hostile string. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...SPECIALS), weight: 5 },
  { arbitrary: boundaryString, weight: 2 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 3 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }), weight: 1 },
  { arbitrary: fc.string({ maxLength: 40 }), weight: 1 },
  { arbitrary: fc.tuple(fc.constantFrom(...SPECIALS), fc.constantFrom(...SPECIALS)).map(([a, b]) => a + b), weight: 1 },
);

/** A parameter or member name: the real ones and hostile ones. */
export function hostileName(real: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof({ arbitrary: fc.constantFrom(...real), weight: 3 }, { arbitrary: hostileString.filter((s) => s.length < 300), weight: 1 });
}

/**
 * Deep nesting without recursion in the generator: `depth` arrays or objects around a leaf (at most
 * 1,000: V8's JSON.stringify recurses; deeper bodies are written as text, see encoding.ts).
 */
export const deepJson: fc.Arbitrary<unknown> = fc
  .tuple(fc.constantFrom(8, 16, 17, 64, 1000), fc.boolean(), hostileString)
  .map(([depth, arrays, leaf]) => {
    let v: unknown = leaf;
    for (let i = 0; i < depth; i++) v = arrays ? [v] : { a: v };
    return v;
  });

/** A JSON value where a string is expected: wrong types, hostile strings, deep or wide structures. */
export const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: hostileString, weight: 4 },
  { arbitrary: fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, Number.MAX_SAFE_INTEGER + 2), weight: 2 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 2 },
  { arbitrary: fc.dictionary(hostileString.filter((s) => s.length < 64), hostileString, { maxKeys: 4 }), weight: 1 },
  { arbitrary: deepJson, weight: 1 },
  { arbitrary: fc.constantFrom(Array.from({ length: 3000 }, (_, i) => i), Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, 'v']))), weight: 1 },
);

/** A header value: hostile text (CR/LF and NUL make the transport fall back to raw bytes), long values, lists. */
export const hostileHeaderValue: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: hostileString.filter((s) => s.length <= 9000), weight: 4 },
  { arbitrary: fc.constantFrom('a, b', 'DPoP', 'DPoP ', 'Bearer', 'Basic', 'Basic =', 'DPoP a b', 'x'.repeat(8000), ' \t '), weight: 1 },
);
