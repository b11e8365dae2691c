import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { hostileHeaderValue, hostileJson, hostileName, hostileString } from './values';

/**
 * How a generated request is put on the wire: the form or JSON body (mutated from a valid
 * skeleton), its content type and coding, and extra headers — so one plan can say "a valid
 * client_credentials request, but client_id repeated with NUL, gzip-encoded, with a CRLF in
 * X-Request-Id".
 */

export type Pairs = [string, string][];

export type Mutation =
  | { readonly op: 'set'; readonly name: string; readonly value: string }
  | { readonly op: 'drop'; readonly name: string }
  | { readonly op: 'repeat'; readonly name: string; readonly value: string }
  | { readonly op: 'add'; readonly name: string; readonly value: string }
  | { readonly op: 'json'; readonly name: string; readonly value: unknown }
  /** The valid value with one character no store should see inserted (issue 8's NUL in client_id). */
  | { readonly op: 'poison'; readonly name: string; readonly char: string; readonly at: number }
  /** The valid value padded past a cap. */
  | { readonly op: 'pad'; readonly name: string; readonly length: number };

/** NUL, other C0 and C1 controls, DEL, lone surrogates, U+FFFD, and the line breaks that are allowed. */
export const POISON = ['\u0000', '\u0000', '\u0000', '\u0000', '\u0001', '\u001b', '\u001f', '\u007f', '\u0080', '\u0085', '\u009f', '\ud800', '\udbff', '\udc00', '\udfff', '\ufffd', '\n', '\r', '\t'];

/** 0–3 mutations of a skeleton whose parameter names are `names` (none: the valid request itself). */
export function mutations(names: readonly string[]): fc.Arbitrary<Mutation[]> {
  const some = fc.constantFrom(...names);
  const one: fc.Arbitrary<Mutation> = fc.oneof(
    { arbitrary: fc.record({ op: fc.constant('set' as const), name: some, value: hostileString }), weight: 6 },
    { arbitrary: fc.record({ op: fc.constant('drop' as const), name: some }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('repeat' as const), name: some, value: fc.oneof(hostileString, fc.constant('')) }), weight: 2 },
    { arbitrary: fc.record({ op: fc.constant('add' as const), name: hostileName([...names, 'scope', 'resource', 'extra']), value: hostileString }), weight: 2 },
    { arbitrary: fc.record({ op: fc.constant('json' as const), name: some, value: hostileJson }), weight: 2 },
    { arbitrary: fc.record({ op: fc.constant('poison' as const), name: some, char: fc.constantFrom(...POISON), at: fc.nat(200) }), weight: 8 },
    { arbitrary: fc.record({ op: fc.constant('pad' as const), name: some, length: fc.constantFrom(129, 257, 1025, 2049, 8193, 16_385, 40_000) }), weight: 1 },
  );
  return fc.array(one, { maxLength: 3 });
}

/** The skeleton's pairs with the mutations applied; `json` values only matter to JSON bodies. */
export function applyMutations(skeleton: Pairs, ms: readonly Mutation[]): { pairs: Pairs; json: Record<string, unknown> } {
  let pairs: Pairs = skeleton.map(([n, v]) => [n, v]);
  const json: Record<string, unknown> = {};
  for (const m of ms) {
    if (m.op === 'set') pairs = [...pairs.filter(([n]) => n !== m.name), [m.name, m.value]];
    else if (m.op === 'drop') pairs = pairs.filter(([n]) => n !== m.name);
    else if (m.op === 'repeat' || m.op === 'add') pairs.push([m.name, m.value]);
    else if (m.op === 'poison' || m.op === 'pad') {
      pairs = pairs.map(([n, v]) => {
        if (n !== m.name) return [n, v];
        if (m.op === 'pad') return [n, v + 'a'.repeat(Math.max(0, m.length - v.length))];
        const i = m.at % (v.length + 1);
        return [n, v.slice(0, i) + m.char + v.slice(i)];
      });
    } else json[m.name] = m.value;
  }
  return { pairs, json };
}

export const BODY_ENCODINGS = ['form', 'form', 'form', 'form', 'form-raw-bytes', 'form-latin1', 'json', 'deep-json-text', 'empty', 'garbage'] as const;
export type BodyEncoding = (typeof BODY_ENCODINGS)[number];

export interface BodyPlan {
  readonly encoding: BodyEncoding;
  /** `undefined`: the right type for the encoding; `null`: no Content-Type at all. */
  readonly contentType: string | null | undefined;
  readonly contentEncoding: 'none' | 'gzip' | 'gzip-broken' | 'gzip-bomb' | 'deflate' | 'br' | string;
  readonly garbage: string;
}

const CONTENT_TYPES = [
  'application/x-www-form-urlencoded; charset=utf-8',
  'application/x-www-form-urlencoded; charset=iso-8859-1',
  'application/x-www-form-urlencoded; charset=utf-16',
  'application/x-www-form-urlencoded; charset=klingon',
  'application/x-www-form-urlencoded;;;',
  'APPLICATION/X-WWW-FORM-URLENCODED',
  'application/json',
  'application/json; charset=utf-16',
  'application/jose+json',
  'text/plain',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencodedx',
  '',
];

export function bodyPlan(preferJson = false): fc.Arbitrary<BodyPlan> {
  return fc.record({
    encoding: preferJson ? fc.constantFrom<BodyEncoding>('json', 'json', 'json', 'form', 'form-raw-bytes', 'deep-json-text', 'empty', 'garbage') : fc.constantFrom(...BODY_ENCODINGS),
    contentType: fc.oneof(
      { arbitrary: fc.constant(undefined), weight: 8 },
      { arbitrary: fc.constantFrom(...CONTENT_TYPES), weight: 2 },
      { arbitrary: fc.constant(null), weight: 1 },
      { arbitrary: hostileHeaderValue, weight: 1 },
    ),
    contentEncoding: fc.oneof(
      { arbitrary: fc.constant('none'), weight: 12 },
      { arbitrary: fc.constantFrom('gzip', 'gzip-broken', 'gzip-bomb', 'deflate', 'br', 'identity', 'x-unknown', 'gzip, gzip'), weight: 2 },
      { arbitrary: hostileHeaderValue, weight: 1 },
    ),
    garbage: hostileString,
  });
}

/** Percent-encodes like a browser would, and a lone surrogate as the bytes of its (invalid) UTF-8 form. */
export function pct(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return Array.from(s, (ch) => {
      const c = ch.charCodeAt(0);
      if (ch.length === 1 && c >= 0xd800 && c <= 0xdfff) return `%${(0xe0 | (c >> 12)).toString(16)}%${(0x80 | ((c >> 6) & 0x3f)).toString(16)}%${(0x80 | (c & 0x3f)).toString(16)}`.toUpperCase();
      return encodeURIComponent(ch);
    }).join('');
  }
}

export interface EncodedBody {
  readonly headers: [string, string][];
  readonly body: Buffer | undefined;
}

export function encodeBody(plan: BodyPlan, pairs: Pairs, jsonValues: Record<string, unknown>): EncodedBody {
  let body: Buffer | undefined;
  let type: string;
  switch (plan.encoding) {
    case 'json':
      body = Buffer.from(JSON.stringify({ ...Object.fromEntries(pairs), ...jsonValues }), 'utf8');
      type = 'application/json';
      break;
    case 'deep-json-text': {
      // Nesting no JSON.stringify could write: 20,000 levels in one member, the rest as given.
      const rest = JSON.stringify(Object.fromEntries(pairs)).slice(1);
      body = Buffer.from(`{"credential":${'['.repeat(20_000)}${']'.repeat(20_000)}${rest === '}' ? '}' : `,${rest}`}`, 'utf8');
      type = 'application/json';
      break;
    }
    case 'form-raw-bytes':
      body = Buffer.from(pairs.map(([n, v]) => `${n}=${v}`).join('&'), 'utf8');
      type = 'application/x-www-form-urlencoded';
      break;
    case 'form-latin1':
      body = Buffer.from(pairs.map(([n, v]) => `${pct(n)}=${v}`).join('&'), 'latin1');
      type = 'application/x-www-form-urlencoded';
      break;
    case 'empty':
      body = undefined;
      type = 'application/x-www-form-urlencoded';
      break;
    case 'garbage':
      body = Buffer.from(plan.garbage, 'utf8');
      type = 'application/x-www-form-urlencoded';
      break;
    default:
      body = Buffer.from(pairs.map(([n, v]) => `${pct(n)}=${pct(v)}`).join('&'), 'latin1');
      type = 'application/x-www-form-urlencoded';
  }
  const headers: [string, string][] = [];
  if (plan.contentType !== null) headers.push(['Content-Type', plan.contentType ?? type]);
  if (plan.contentEncoding !== 'none') {
    headers.push(['Content-Encoding', plan.contentEncoding === 'gzip-broken' || plan.contentEncoding === 'gzip-bomb' ? 'gzip' : plan.contentEncoding]);
    if (plan.contentEncoding === 'gzip') body = gzipSync(body ?? Buffer.alloc(0));
    else if (plan.contentEncoding === 'deflate') body = deflateSync(body ?? Buffer.alloc(0));
    else if (plan.contentEncoding === 'br') body = brotliCompressSync(body ?? Buffer.alloc(0));
    else if (plan.contentEncoding === 'gzip-bomb') body = GZIP_BOMB;
  }
  return { headers, body };
}

/** 8 MB of zeros in about 8 kB: the body limit must apply to what it inflates to. */
const GZIP_BOMB = gzipSync(Buffer.alloc(8 * 1024 * 1024));

/** The headers the suite reads, plus a few it should ignore, each with a hostile value. */
const HEADER_NAMES = ['Authorization', 'DPoP', 'X-Request-Id', 'X-Forwarded-For', 'X-Forwarded-Proto', 'X-Forwarded-Host', 'Host', 'Content-Type', 'Content-Encoding', 'Accept', 'Cookie', 'Origin'];

export const extraHeaders: fc.Arbitrary<[string, string][]> = fc.array(
  fc.tuple(fc.oneof({ arbitrary: fc.constantFrom(...HEADER_NAMES), weight: 6 }, { arbitrary: hostileString.filter((s) => s.length > 0 && s.length < 40), weight: 1 }), hostileHeaderValue),
  { maxLength: 2 },
);
