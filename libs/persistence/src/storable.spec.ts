import type { DataSource } from 'typeorm';
import { OAuthError } from '@fpa/oauth-core';
import { sqlRunner } from './data-source';
import { assertStorable, StorableParametersSubscriber, storableText, unstorableParameter } from './storable';

describe('the last line before PostgreSQL (issue 8)', () => {
  it('finds NUL and lone surrogates in any parameter, inside arrays and objects, and says where', () => {
    expect(unstorableParameter(['ok', 'a\u0000b'])).toBe('$2');
    expect(unstorableParameter(['ok', ['x', '\ud800']])).toBe('$2[1]');
    expect(unstorableParameter([{ a: { b: ['\udfff'] } }])).toBe('$1.a.b[0]');
    expect(unstorableParameter([{ 'k\u0000': 1 }])).toBe('$1');
  });

  it('finds the escapes jsonb refuses inside a JSON text (22P05): \\u0000 and lone surrogate escapes', () => {
    expect(unstorableParameter([JSON.stringify({ kty: 'EC', x: 'a\u0000' })])).toBe('$1');
    expect(unstorableParameter([JSON.stringify(['\ud800'])])).toBe('$1');
    expect(unstorableParameter([JSON.stringify({ a: 'x\udc00' })])).toBe('$1');
    // A surrogate pair escaped, and the same text outside JSON, are fine.
    expect(unstorableParameter(['{"a":"\\ud83d\\ude00"}', 'C:\\u0000 is a path, not JSON'])).toBeUndefined();
  });

  it('leaves everything PostgreSQL holds alone: controls it can store, Unicode, numbers, dates, buffers, null', () => {
    expect(unstorableParameter(['a\u0001\u009b\ufffd', '😀', 1, 2n, true, null, undefined, new Date(), Buffer.from([0]), { a: [1, 'b'] }])).toBeUndefined();
  });

  it('refuses a structure nested deeper than anything the suite stores, without recursion', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 40_000; i++) deep = [deep];
    expect(unstorableParameter([deep])).toMatch(/^\$1(\[0\])+$/);
  });

  it('assertStorable throws invalid_request (reason store_input) naming the position, never the value', () => {
    let error: unknown;
    try {
      assertStorable(['fine', 'secret\u0000value']);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OAuthError);
    expect(error).toMatchObject({ code: 'invalid_request', status: 400, reason: 'store_input' });
    expect(((error as OAuthError).cause as Error).message).toBe('unstorable parameter $2');
    expect(JSON.stringify((error as OAuthError).toBody())).not.toContain('secret');
  });

  it('sqlRunner never sends such a statement; TypeORM statements are checked by the subscriber', async () => {
    const query = jest.fn(async () => ({ rows: [] }));
    const ds = { driver: { master: { query } } } as unknown as DataSource;
    await expect(sqlRunner(ds)('SELECT $1', ['a\u0000'])).rejects.toMatchObject({ code: 'invalid_request', reason: 'store_input' });
    expect(query).not.toHaveBeenCalled();
    await expect(sqlRunner(ds)('SELECT $1', ['a'])).resolves.toEqual([]);
    expect(query).toHaveBeenCalledTimes(1);
    expect(() => new StorableParametersSubscriber().beforeQuery({ query: 'SELECT $1', parameters: ['\u0000'] } as never)).toThrow(OAuthError);
    expect(() => new StorableParametersSubscriber().beforeQuery({ query: 'SELECT 1' } as never)).not.toThrow();
  });

  it('storableText replaces what PostgreSQL cannot hold (records written whatever they quote)', () => {
    expect(storableText('a\u0000b\ud800c\udfff😀')).toBe('a\ufffdb\ufffdc\ufffd😀');
    expect(storableText('ok')).toBe('ok');
    expect(unstorableParameter([storableText('\u0000\udc00')])).toBeUndefined();
  });
});
