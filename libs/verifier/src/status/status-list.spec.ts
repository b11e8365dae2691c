import { deflateSync } from 'node:zlib';
import { StatusList, type BitsPerStatus } from '@sd-jwt/jwt-status-list';
import { decompressStatusList, statusAt, StatusListFormatError } from './status-list';

describe('Token Status List decoding (draft-ietf-oauth-status-list §4)', () => {
  it('reads the draft example (bits 1: statuses 1,0,0,1,1,1,0,1,1,1,0,0,0,1,0,1)', () => {
    const list = decompressStatusList('eNrbuRgAAhcBXQ', 1024);
    const expected = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1];
    expect(expected.map((_, i) => statusAt(list, 1, i))).toEqual(expected);
  });

  it.each([1, 2, 4, 8] as BitsPerStatus[])('agrees with @sd-jwt/jwt-status-list encoding at %i bits', (bits) => {
    const values = Array.from({ length: 203 }, (_, i) => (i * 7919 + 13) % 2 ** bits);
    const lst = new StatusList(values, bits).compressStatusList();
    const list = decompressStatusList(lst, 1 << 20);
    expect(values.map((_, i) => statusAt(list, bits, i))).toEqual(values);
  });

  it('refuses an index outside the list (§8.3 step 7)', () => {
    const list = decompressStatusList(new StatusList([0, 0, 0, 0, 0, 0, 0, 0], 1).compressStatusList(), 1024);
    expect(statusAt(list, 1, 7)).toBe(0);
    expect(() => statusAt(list, 1, 8)).toThrow(StatusListFormatError);
    expect(() => statusAt(list, 1, -1)).toThrow(StatusListFormatError);
    expect(() => statusAt(list, 1, 1.5)).toThrow(StatusListFormatError);
  });

  it('stops a list that inflates past the cap (a compression bomb)', () => {
    const bomb = deflateSync(Buffer.alloc(10 * 1024 * 1024)).toString('base64url');
    expect(bomb.length).toBeLessThan(20_000);
    expect(() => decompressStatusList(bomb, 1024 * 1024)).toThrow(/larger than/);
  });

  it('refuses what is not base64url ZLIB', () => {
    expect(() => decompressStatusList('not base64!', 1024)).toThrow(StatusListFormatError);
    expect(() => decompressStatusList(Buffer.from('plain').toString('base64url'), 1024)).toThrow(StatusListFormatError);
    expect(() => decompressStatusList(42, 1024)).toThrow(StatusListFormatError);
  });
});
