import { OAuthError } from '@fpa/oauth-core';
import { readChallengeInput } from './challenge-request';

const JSON_TYPE = 'application/json';
const FORM = 'application/x-www-form-urlencoded';

describe('readChallengeInput: every string of a form or JSON body passes the text rules (issue 8)', () => {
  const refused = (body: unknown, type = JSON_TYPE): OAuthError => {
    try {
      readChallengeInput(body, type);
    } catch (e) {
      if (e instanceof OAuthError) return e;
      throw e;
    }
    throw new Error('accepted');
  };

  it('NUL or a control character in a top-level value, form or JSON', () => {
    expect(refused({ client_id: 'a\u0000' }, FORM)).toMatchObject({ code: 'invalid_request', description: 'parameter client_id contains a control character' });
    expect(refused({ login_hint: 'a\u0085@example.com' })).toMatchObject({ code: 'invalid_request' });
  });

  it('deep inside a JSON value: strings, member names, lone surrogates, invalid UTF-8', () => {
    expect(refused({ credential: { response: { transports: ['usb', 'x\u0000'] } } }).description).toBe('parameter credential.response.transports[1] contains a control character');
    expect(refused({ credential: { 'id\u0000': 'x' } }).description).toBe('parameter credential has a malformed member name');
    expect(refused({ credential: { id: '\udc00' } }).description).toBe('parameter credential.id is not well-formed Unicode');
    expect(refused({ code: '12\ufffd' }).description).toBe('parameter code is not valid UTF-8');
  });

  it('nesting beyond 16 levels, and a body nested thousands deep, are refused without a stack overflow', () => {
    expect(refused({ credential: JSON.parse(`${'['.repeat(17)}${']'.repeat(17)}`) }).description).toMatch(/nested too deeply/);
    expect(refused({ credential: JSON.parse(`${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`) }).description).toMatch(/nested too deeply/);
  });

  it('a real WebAuthn-shaped response and ordinary parameters pass', () => {
    const credential = { id: 'abc', rawId: 'abc', type: 'public-key', response: { clientDataJSON: 'eyJ9', authenticatorData: 'AA', signature: 'MEU', transports: ['internal'] }, clientExtensionResults: { credProps: { rk: true } } };
    expect(readChallengeInput({ auth_session: 's', credential, n: 1, ok: true }, JSON_TYPE)).toEqual({ auth_session: 's', credential, n: 1, ok: true });
  });
});
