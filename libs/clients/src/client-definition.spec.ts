import { ClientDefinitionError, parseClientDefinition, redirectUriProblem } from './client-definition';

const base = { client_id: 'app', type: 'public', first_party: true, grant_types: ['client_credentials'] };

describe('parseClientDefinition: assertion_audience (JWTCA-9)', () => {
  it('accepts issuer and issuer_or_endpoint, and leaves it absent by default', () => {
    expect(parseClientDefinition({ ...base, assertion_audience: 'issuer' }).assertion_audience).toBe('issuer');
    expect(parseClientDefinition({ ...base, assertion_audience: 'issuer_or_endpoint' }).assertion_audience).toBe('issuer_or_endpoint');
    expect(parseClientDefinition(base).assertion_audience).toBeUndefined();
  });

  it('refuses any other value, naming the field', () => {
    for (const value of ['endpoint', 'ISSUER', '', true, ['issuer']]) {
      expect(() => parseClientDefinition({ ...base, assertion_audience: value })).toThrow(ClientDefinitionError);
      expect(() => parseClientDefinition({ ...base, assertion_audience: value })).toThrow(/assertion_audience must be issuer or issuer_or_endpoint/);
    }
  });
});

describe('client metadata for ordinary OAuth clients (issue 9)', () => {
  const web = { client_id: 'web', type: 'confidential', auth_methods: ['client_secret_basic'], grant_types: ['authorization_code'] };

  it('redirect URIs: https, loopback http, or a reverse-domain private-use scheme (RFC 8252 §7), never a fragment', () => {
    expect(redirectUriProblem('https://app.example.com/cb')).toBeUndefined();
    expect(redirectUriProblem('http://127.0.0.1:8080/cb')).toBeUndefined();
    expect(redirectUriProblem('http://[::1]/cb')).toBeUndefined();
    expect(redirectUriProblem('com.example.app:/oauth2redirect')).toBeUndefined();
    for (const bad of ['http://app.example.com/cb', 'https://app.example.com/cb#x', 'myapp:/cb', 'javascript:alert(1)', '/relative', 'not a uri']) {
      expect({ bad, problem: redirectUriProblem(bad) }).toEqual({ bad, problem: expect.any(String) });
    }
    expect(() => parseClientDefinition({ ...web, redirect_uris: ['https://app.example.com/cb', 'http://evil.example/cb'] })).toThrow(/redirect_uris: "http:\/\/evil.example\/cb" may use http only on a loopback address/);
  });

  it('accepts the RFC 7591 names and stores them as given', () => {
    const def = parseClientDefinition({
      ...web,
      redirect_uris: ['https://app.example.com/cb'],
      jwks_uri: 'https://app.example.com/jwks',
      authorization_details_types: ['payment_initiation'],
      native_callback_uris: ['https://app.example.com/native'],
      require_pushed_authorization_requests: true,
      logo_uri: 'https://app.example.com/logo.png',
    });
    expect(def).toMatchObject({ redirect_uris: ['https://app.example.com/cb'], require_pushed_authorization_requests: true });
    expect(() => parseClientDefinition({ ...web, jwks_uri: 'http://app.example.com/jwks' })).toThrow(/jwks_uri must be an https URL/);
    expect(() => parseClientDefinition({ ...web, native_callback_uris: ['app:/native'] })).toThrow(/native_callback_uris/);
  });
});

describe('isRegisteredRedirectUri (RFC 9700 §2.1, RFC 8252 §7.3)', () => {
  const client = { redirectUris: ['https://app.example.com/cb', 'http://127.0.0.1/callback', 'http://[::1]:8080/cb?x=1', 'http://localhost:8080/cb', 'com.example.app:/oauth'] };
  it('is exact, except for the port of an http loopback IP literal', () => {
    const { isRegisteredRedirectUri } = jest.requireActual<typeof import('./redirect-uri')>('./redirect-uri');
    for (const ok of ['https://app.example.com/cb', 'http://127.0.0.1/callback', 'http://127.0.0.1:51004/callback', 'http://[::1]/cb?x=1', 'http://[::1]:1/cb?x=1', 'com.example.app:/oauth', 'http://localhost:8080/cb']) {
      expect([ok, isRegisteredRedirectUri(client, ok)]).toEqual([ok, true]);
    }
    for (const bad of [
      'https://app.example.com/cb/',
      'https://APP.example.com/cb',
      'https://app.example.com/cb?x=1',
      'https://app.example.com:443/cb',
      'http://127.0.0.1:51004/callback/',
      'http://127.0.0.1:51004/other',
      'http://127.0.0.2:51004/callback',
      'http://127.0.0.1:051004/callback',
      'http://127.0.0.1:99999/callback',
      'http://127.0.0.1:80@evil.example/callback',
      'https://127.0.0.1:51004/callback',
      'http://[::1]:8080/cb',
      'http://localhost:9090/cb',
      'com.example.app:/oauth2',
    ]) {
      expect([bad, isRegisteredRedirectUri(client, bad)]).toEqual([bad, false]);
    }
  });
});
