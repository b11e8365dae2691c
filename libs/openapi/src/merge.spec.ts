import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMON_OPENAPI, ref } from './common';
import type { OpenApiFragment } from './fragment';
import { danglingReferences, mergeFragments, OpenApiMergeError } from './merge';
import { SUITE_API_VERSION, suiteDocumentBase } from './suite-document';

const base = suiteDocumentBase('https://as.example.com');
const ok = { '200': { description: 'ok' } };

function fragment(name: string, paths: string[], schemas: string[] = [], operationIds: string[] = []): OpenApiFragment {
  return {
    name,
    paths: Object.fromEntries(paths.map((p, i) => [p, { 'x-service': 'token' as const, get: { responses: ok, ...(operationIds[i] ? { operationId: operationIds[i] } : {}) } }])),
    components: { schemas: Object.fromEntries(schemas.map((s) => [s, { type: 'string' }])) },
  };
}

describe('mergeFragments: one document from fragments, start-up fails on a claim made twice', () => {
  it('unions paths, components and tags of distinct fragments', () => {
    const a = { ...fragment('a', ['/a'], ['A']), tags: [{ name: 't', description: 'd' }] };
    const b = { ...fragment('b', ['/b'], ['B']), tags: [{ name: 't', description: 'd' }] };
    const doc = mergeFragments(base, [a, b]);
    expect(Object.keys(doc.paths)).toEqual(['/a', '/b']);
    expect(Object.keys(doc.components!.schemas!)).toEqual(['A', 'B']);
    expect(doc.tags).toEqual([{ name: 't', description: 'd' }]);
    expect(doc.info.title).toBe('first-party-auth');
    expect(doc.servers).toEqual([expect.objectContaining({ url: 'https://as.example.com' })]);
  });

  it.each([
    ['a path', [fragment('a', ['/x']), fragment('b', ['/x'])], /path \/x is contributed by both "a" and "b"/],
    ['a component name, even with the same value', [fragment('a', ['/a'], ['S']), fragment('b', ['/b'], ['S'])], /component schemas\/S is contributed by both "a" and "b"/],
    ['an operationId', [fragment('a', ['/a'], [], ['op']), fragment('b', ['/b'], [], ['op'])], /operationId op \(GET \/b\) is also used by "a"/],
    ['a fragment', [fragment('a', ['/a']), fragment('a', ['/b'])], /fragment "a" is registered twice/],
    ['a tag with two descriptions', [{ ...fragment('a', ['/a']), tags: [{ name: 't', description: '1' }] }, { ...fragment('b', ['/b']), tags: [{ name: 't', description: '2' }] }], /tag t is described differently/],
  ])('refuses %s contributed twice', (_what, fragments, message) => {
    expect(() => mergeFragments(base, fragments)).toThrow(OpenApiMergeError);
    expect(() => mergeFragments(base, fragments)).toThrow(message);
  });

  it('refuses a reference to a component nobody contributed', () => {
    const dangling: OpenApiFragment = { name: 'd', paths: { '/d': { 'x-service': 'token', get: { responses: { '200': { description: 'x', content: { 'application/json': { schema: ref('schemas', 'Missing') } } } } } } } };
    expect(() => mergeFragments(base, [dangling])).toThrow(/#\/components\/schemas\/Missing/);
  });

  it('copies: a merged document shares nothing with its fragments', () => {
    const a = fragment('a', ['/a'], ['A']);
    const doc = mergeFragments(base, [a]);
    (doc.components!.schemas!.A as { type: string }).type = 'integer';
    expect((a.components!.schemas!.A as { type: string }).type).toBe('string');
  });

  it('the shared components resolve on their own', () => {
    expect(danglingReferences(mergeFragments(base, [COMMON_OPENAPI]))).toEqual([]);
  });

  it('info.version is the suite’s release (package.json)', () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8')) as { version: string };
    expect(SUITE_API_VERSION).toBe(pkg.version);
  });
});
