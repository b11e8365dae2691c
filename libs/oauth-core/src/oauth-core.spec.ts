import { BadRequestException, NotFoundException } from '@nestjs/common';
import { mergeMetadata } from './metadata';
import { BASIC_CHALLENGE, OAUTH_ERROR_TABLE, OAuthError, readForm, toOAuthError, withBasicChallenge } from './index';

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
