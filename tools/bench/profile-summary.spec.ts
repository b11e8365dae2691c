import { categoryOf, renderProfileSummary, summarizeProfile, type CpuProfile } from './profile-summary';

/** Issue 13: the profile summariser behind `npm run bench:profile`. */

const frame = (functionName: string, url = '') => ({ functionName, url, lineNumber: 0 });

/** root → idle; root → handler (ours) → sign (node crypto); root → GC. */
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 3, 5] },
    { id: 2, callFrame: frame('(idle)') },
    { id: 3, callFrame: frame('handle', 'file:///x/dist/libs/grants/src/token.js'), children: [4] },
    { id: 4, callFrame: frame('sign', 'node:internal/crypto/sig') },
    { id: 5, callFrame: frame('(garbage collector)') },
  ],
  // 6 idle, 1 in handle itself, 2 in sign, 1 GC.
  samples: [2, 2, 2, 2, 2, 2, 3, 4, 4, 5],
  startTime: 0,
  endTime: 10_000_000,
};

describe('profile summary', () => {
  it('categorises frames: dependencies by package, ours by lib, Node internals, GC', () => {
    expect(categoryOf(frame('x', 'file:///w/node_modules/@nestjs/core/router/a.js'))).toBe('@nestjs/core');
    expect(categoryOf(frame('x', 'file:///w/node_modules/pino/lib/proto.js'))).toBe('pino');
    expect(categoryOf(frame('x', '/w/dist/libs/platform/src/logging.js'))).toBe('ours: libs/platform');
    expect(categoryOf(frame('x', 'node:internal/crypto/util'))).toBe('node: crypto');
    expect(categoryOf(frame('x', 'node:_http_server'))).toBe('node: _http_server');
    expect(categoryOf(frame('(garbage collector)'))).toBe('GC');
    expect(categoryOf(frame('writev'))).toBe('native: writev');
  });

  it('gives shares of the busy samples, self and inclusive', () => {
    const s = summarizeProfile(profile);
    expect([s.samples, s.busySamples, s.seconds]).toEqual([10, 4, 10]);
    expect(s.byCategory).toEqual([
      { name: 'node: crypto', share: 0.5 },
      { name: 'ours: libs/grants', share: 0.25 },
      { name: 'GC', share: 0.25 },
    ]);
    expect(s.selfTop[0]).toEqual({ name: 'sign node:internal/crypto/sig:1', share: 0.5 });
    expect(s.inclusiveTop[0]).toEqual({ name: 'handle dist/libs/grants/src/token.js:1', share: 0.75 });
    expect(renderProfileSummary(s)).toContain('40.0 % busy');
  });
});
