import { BadRequestException, NotFoundException } from '@nestjs/common';
import { mergeMetadata } from './metadata';
import type { ArgumentsHost } from '@nestjs/common';
import { BASIC_CHALLENGE, OAUTH_ERROR_TABLE, OAuthError, OAuthExceptionFilter, readForm, STORE_INPUT, toOAuthError, withBasicChallenge } from './index';

const FORM = 'application/x-www-form-urlencoded';

describe('OAuthError (GEN-1, FIPA-19)', () => {
  it('maps codes to the statuses the specs set', () => {
    expect(new OAuthError('invalid_client').status).toBe(401);
    expect(new OAuthError('insufficient_authorization').status).toBe(403);
    expect(new OAuthError('redirect_to_web').status).toBe(403);
    expect(new OAuthError('invalid_session').status).toBe(400);
    expect(new OAuthError('use_dpop_nonce').status).toBe(400);
    expect(new OAuthError('slow_down').status).toBe(429);
    expect(OAUTH_ERROR_TABLE.server_error.expose).toBe(false);
  });

  it('renders error, a safe description and extra members; hides server_error details', () => {
    expect(new OAuthError('invalid_request', 'bad "quote"\\ and\nnewline', { extra: { auth_session: 'abc' } }).toBody()).toEqual({
      error: 'invalid_request',
      error_description: "bad 'quote'' and'newline",
      auth_session: 'abc',
    });
    expect(new OAuthError('server_error', 'SELECT * FROM secrets').toBody()).toEqual({ error: 'server_error' });
  });

  it('turns anything unexpected into server_error and store outages into 503', () => {
    expect(toOAuthError(new Error('boom')).code).toBe('server_error');
    expect(toOAuthError(new NotFoundException()).code).toBe('not_found');
    expect(toOAuthError(new BadRequestException()).code).toBe('invalid_request');
    expect(toOAuthError(Object.assign(new Error('x'), { type: 'entity.too.large' })).status).toBe(413);
    const down = toOAuthError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
    expect(down.code).toBe('temporarily_unavailable');
    expect(down.headers['Retry-After']).toBe('1');
    // An exhausted PostgreSQL pool under overload (pg-pool's connect timeout): retryable, not a server fault.
    expect(toOAuthError(new Error('timeout exceeded when trying to connect')).code).toBe('temporarily_unavailable');
  });
});

describe('readForm (CONTRACT §2)', () => {
  it('accepts single-valued form parameters and treats empty values as omitted', () => {
    expect({ ...readForm({ a: '1', b: '' }, FORM) }).toEqual({ a: '1' });
    expect({ ...readForm({ a: '1' }, 'application/x-www-form-urlencoded; charset=utf-8') }).toEqual({ a: '1' });
  });

  it('refuses repeated parameters, nested values and other content types', () => {
    expect(() => readForm({ a: ['1', '2'] }, FORM)).toThrow(/repeated/);
    expect(() => readForm({ a: { b: 1 } }, FORM)).toThrow(/malformed/);
    expect(() => readForm({ a: '1' }, 'application/json')).toThrow(/x-www-form-urlencoded/);
    expect(() => readForm({ a: '1' }, undefined)).toThrow(OAuthError);
  });
});

describe('readForm: text no store can hold is refused at the boundary (issue 8)', () => {
  it.each([
    ['NUL', 'native\u0000app'],
    ['another C0 control', 'a\u001bb'],
    ['DEL', 'a\u007f'],
    ['a C1 control', 'a\u0085b'],
    ['a lone surrogate', 'a\ud800'],
    ['U+FFFD (bytes that were not UTF-8)', 'a\ufffdb'],
    ['a value over 16 kB', 'a'.repeat(16_385)],
  ])('%s in a value is invalid_request naming the parameter, never the value', (_, value) => {
    let error: unknown;
    try {
      readForm({ grant_type: 'client_credentials', client_id: value }, FORM);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OAuthError);
    expect(error).toMatchObject({ code: 'invalid_request', status: 400, reason: 'input_text', description: expect.stringMatching(/^parameter client_id /) });
    expect((error as OAuthError).toBody().error_description).not.toContain(value.slice(0, 6));
  });

  it('refuses a malformed parameter name; keeps the line breaks a PEM key needs', () => {
    expect(() => readForm({ 'client_id\u0000': 'x' }, FORM)).toThrow(/malformed parameter name/);
    expect(() => readForm({ ['n'.repeat(129)]: 'x' }, FORM)).toThrow(/malformed parameter name/);
    const pem = '-----BEGIN PUBLIC KEY-----\r\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n';
    expect(readForm({ public_key: pem }, FORM).public_key).toBe(pem);
  });
});

describe('PostgreSQL refusing input is a 400, logged at warn without a stack (issue 8)', () => {
  const pgError = (code: string): Error =>
    Object.assign(new Error('query failed'), { name: 'QueryFailedError', driverError: Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code }) });

  it.each(['22021', '22P05', '54000', '22001', '22P02', '22003'])('SQLSTATE %s is invalid_request (reason store_input)', (code) => {
    expect(toOAuthError(pgError(code))).toMatchObject({ code: 'invalid_request', status: 400, reason: STORE_INPUT });
  });

  it('other database errors stay server_error; connection loss stays 503', () => {
    expect(toOAuthError(pgError('42P01')).code).toBe('server_error');
    expect(toOAuthError(pgError('57P01')).code).toBe('temporarily_unavailable');
  });

  it('the filter answers 400 no-store and writes one warn line with the SQLSTATE, no stack, no driver message', () => {
    const logged: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
    const log = {
      warn: (obj: Record<string, unknown>, msg: string) => logged.push({ level: 'warn', obj, msg }),
      error: (obj: Record<string, unknown>, msg: string) => logged.push({ level: 'error', obj, msg }),
    };
    const headers: Record<string, string> = {};
    const res = {
      headersSent: false,
      statusCode: 0,
      body: undefined as unknown,
      status(n: number) {
        this.statusCode = n;
        return this;
      },
      setHeader: (k: string, v: string) => void (headers[k.toLowerCase()] = v),
      json(b: unknown) {
        this.body = b;
      },
    };
    const req = { log, path: '/introspect', route: { path: '/introspect' } };
    const host = { switchToHttp: () => ({ getResponse: () => res, getRequest: () => req }) } as unknown as ArgumentsHost;
    new OAuthExceptionFilter().catch(pgError('22021'), host);
    new OAuthExceptionFilter().catch(new OAuthError('invalid_request', 'x', { reason: STORE_INPUT, cause: new Error('unstorable parameter $2') }), host);
    expect(res.statusCode).toBe(400);
    expect(headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({ error: 'invalid_request', error_description: 'x' });
    expect(logged.map((l) => l.level)).toEqual(['warn', 'warn']);
    expect(logged[0].obj).toEqual({ requestId: '', route: '/introspect', pgCode: '22021', at: undefined });
    expect(logged[1].obj).toMatchObject({ at: 'unstorable parameter $2' });
    expect(JSON.stringify(logged)).not.toMatch(/stack|0x00|QueryFailedError/);
  });
});

describe('mergeMetadata (META-1)', () => {
  it('unions arrays, omits empty arrays, refuses conflicting scalars', () => {
    expect(mergeMetadata('https://as', [{ grant_types_supported: ['a'], x: [] }, { grant_types_supported: ['b', 'a'], y: 1 }])).toEqual({
      issuer: 'https://as',
      grant_types_supported: ['a', 'b'],
      y: 1,
    });
    expect(() => mergeMetadata('https://as', [{ y: 1 }, { y: 2 }])).toThrow(/twice/);
  });
});

describe('withBasicChallenge (RFC 6749 §5.2)', () => {
  it('invalid_client after Authorization: Basic gets the Basic challenge; other errors, other schemes and chosen challenges stay', () => {
    const refused = new OAuthError('invalid_client', 'unknown or disabled client');
    expect(withBasicChallenge(refused, 'Basic YTpi').headers).toEqual({ 'WWW-Authenticate': BASIC_CHALLENGE });
    expect(withBasicChallenge(refused, 'basic').headers).toEqual({ 'WWW-Authenticate': BASIC_CHALLENGE });
    expect(withBasicChallenge(refused, undefined).headers).toEqual({});
    expect(withBasicChallenge(refused, 'DPoP abc').headers).toEqual({});
    expect(withBasicChallenge(new OAuthError('invalid_request', 'x'), 'Basic YTpi').headers).toEqual({});
    const dpop = new OAuthError('invalid_client', 'x', { headers: { 'WWW-Authenticate': 'DPoP error="invalid_token"' } });
    expect(withBasicChallenge(dpop, 'Basic YTpi')).toBe(dpop);
    expect(withBasicChallenge(refused, 'Basic YTpi').status).toBe(401);
  });
});
