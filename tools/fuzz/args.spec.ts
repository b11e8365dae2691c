import { FuzzArgsError, parseFuzzArgs } from './args';

describe('npm run fuzz -- <count> [--seed <n>] [--first]', () => {
  it('reads the count, an optional seed, and whether to stop at the first failure', () => {
    expect(parseFuzzArgs(['20000'])).toEqual({ count: 20_000, seed: undefined, collect: true });
    expect(parseFuzzArgs(['500', '--seed', '42', '--first'])).toEqual({ count: 500, seed: 42, collect: false });
  });

  it('refuses a missing or odd count, a bad seed, and anything else', () => {
    for (const argv of [[], ['0'], ['-5'], ['1e4'], ['10', '--seed'], ['10', '--seed', 'x'], ['10', '--seed', String(2 ** 31)], ['10', '20'], ['10', '--fast']]) {
      expect(() => parseFuzzArgs(argv)).toThrow(FuzzArgsError);
    }
  });
});
