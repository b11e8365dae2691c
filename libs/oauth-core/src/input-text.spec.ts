import fc from 'fast-check';
import { IDENTIFIER_RULES, jsonFault, MAX_JSON_DEPTH, MAX_TEXT_LENGTH, textFault } from './input-text';

const FORBIDDEN = ['\u0000', '\u0001', '\u0008', '\u000B', '\u000C', '\u001B', '\u001F', '\u007F', '\u0080', '\u0085', '\u009F'];
const LONE = ['\uD800', '\uDBFF', '\uDC00', '\uDFFF'];

describe('textFault: what a value must be before it is looked up or stored (issue 8)', () => {
  it('refuses NUL, C0 (but HT, LF, CR), DEL and C1 controls', () => {
    for (const c of FORBIDDEN) expect({ c: c.charCodeAt(0), fault: textFault(`a${c}b`) }).toEqual({ c: c.charCodeAt(0), fault: 'control' });
    // A PEM public key (RFC 7468) has line breaks; identifiers take none.
    expect(textFault('-----BEGIN PUBLIC KEY-----\r\nMFkw\tEw\n-----END PUBLIC KEY-----\n')).toBeUndefined();
    for (const c of ['\t', '\n', '\r']) expect(textFault(`a${c}b`, IDENTIFIER_RULES)).toBe('control');
  });

  it('refuses lone surrogates (either half, anywhere) and U+FFFD, accepts pairs and other Unicode', () => {
    for (const s of LONE) {
      expect(textFault(s)).toBe('surrogate');
      expect(textFault(`x${s}y`)).toBe('surrogate');
    }
    expect(textFault('\uDC00\uD800')).toBe('surrogate');
    expect(textFault('a\uFFFDb')).toBe('replacement');
    expect(textFault('😀 Bücher — ok')).toBeUndefined();
  });

  it('caps the length: MAX_TEXT_LENGTH by default, tighter when asked', () => {
    expect(textFault('a'.repeat(MAX_TEXT_LENGTH))).toBeUndefined();
    expect(textFault('a'.repeat(MAX_TEXT_LENGTH + 1))).toBe('length');
    expect(textFault('a'.repeat(1025), IDENTIFIER_RULES)).toBe('length');
  });

  it('property: printable well-formed text passes; one forbidden character anywhere fails', () => {
    // eslint-disable-next-line no-control-regex -- the generator excludes exactly the refused characters
    const clean = fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !/[\u0000-\u001F\u007F-\u009F\uFFFD]/.test(s));
    fc.assert(
      fc.property(clean, (s) => textFault(s, IDENTIFIER_RULES) === undefined),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(clean, fc.nat(), fc.constantFrom(...FORBIDDEN, ...LONE, '\uFFFD'), (s, at, bad) => {
        const i = at % (s.length + 1);
        return textFault(s.slice(0, i) + bad + s.slice(i)) !== undefined;
      }),
      { numRuns: 300 },
    );
  });
});

describe('jsonFault: every string and member name of a JSON value, at any depth', () => {
  it('finds a bad string or name deep inside, and says where without quoting it', () => {
    expect(jsonFault({ response: { clientDataJSON: 'ok', transports: ['usb', 'x\u0000'] } }, 'credential')).toEqual({ fault: 'control', path: 'credential.response.transports[1]' });
    expect(jsonFault({ a: { 'b\u0000': 1 } }, 'credential')).toEqual({ fault: 'name', path: 'credential.a' });
    expect(jsonFault(['\uD800'], 'p')).toEqual({ fault: 'surrogate', path: 'p[0]' });
    expect(jsonFault({ a: [1, true, null, 'ok', { b: 'ok' }] }, 'p')).toBeUndefined();
  });

  it('limits nesting, and walks a hostile depth without recursion (no stack overflow)', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < MAX_JSON_DEPTH; i++) deep = [deep];
    expect(jsonFault(deep, 'p')).toBeUndefined();
    expect(jsonFault([deep], 'p')?.fault).toBe('depth');
    const hostile = JSON.parse(`${'['.repeat(30_000)}${']'.repeat(30_000)}`) as unknown;
    expect(jsonFault(hostile, 'p')?.fault).toBe('depth');
  });
});
