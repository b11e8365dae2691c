import { CLIENT_METADATA_DEFAULTS, type Client } from '@fpa/clients';
import { AuthorizationDetailsRegistry } from './authorization-details';
import { parseAuthorizationRequest, type RequestChannel } from './authorization-request';
import { EXAMPLE_DETAIL_TYPES } from './examples/authorization-details';

const client: Client = {
  id: 'web-app',
  name: 'Web app',
  type: 'confidential',
  firstParty: false,
  grantTypes: ['authorization_code'],
  authMethods: ['private_key_jwt'],
  secretHash: null,
  scopes: ['openid', 'api.read'],
  resources: ['https://api.example.com'],
  permissions: [],
  dpopBoundAccessTokens: false,
  enabled: true,
  challengePolicy: null,
  assertionAudience: null,
  ...CLIENT_METADATA_DEFAULTS,
  redirectUris: ['https://app.example.com/cb', 'com.example.app:/cb'],
  authorizationDetailsTypes: ['account_information'],
  nativeCallbackUris: ['https://app.example.com/native'],
};
const ctx = (channel: RequestChannel) => ({ channel, defaultAudience: 'https://as.example.com/resources', details: new AuthorizationDetailsRegistry(EXAMPLE_DETAIL_TYPES) });
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'; // VEC-7
const browser = { response_type: 'code', redirect_uri: 'https://app.example.com/cb', code_challenge: CHALLENGE, code_challenge_method: 'S256' };
const parse = (params: Record<string, unknown>, channel: RequestChannel = 'browser') => parseAuthorizationRequest(client, params, ctx(channel));
const refusedWith = (code: string, f: () => unknown): void => expect(f).toThrow(expect.objectContaining({ code }));

describe('parseAuthorizationRequest: one validation for the browser, PAR and the native endpoint', () => {
  it('a complete browser request', () => {
    const r = parse({ ...browser, scope: 'openid', state: 's-1', acr_values: 'urn:first-party-auth:acr:mfa', max_age: '60', login_hint: 'a@example.com', resource: 'https://api.example.com', dpop_jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I', prompt: 'login consent', authorization_details: JSON.stringify([{ type: 'account_information', actions: ['read_balances'] }]), native_callback_uri: 'https://app.example.com/native', unknown_parameter: 'ignored' });
    expect(r).toMatchObject({ clientId: 'web-app', responseType: 'code', redirectUri: 'https://app.example.com/cb', scopes: ['openid'], state: 's-1', codeChallenge: CHALLENGE, maxAge: 60, prompt: ['login', 'consent'], authorizationDetails: [{ type: 'account_information' }] });
    expect(r).not.toHaveProperty('unknown_parameter');
  });

  it('RFC 6749 §3.1.2 / RFC 9700 §4.1.1: the redirect URI is required and matched exactly', () => {
    refusedWith('invalid_request', () => parse({ ...browser, redirect_uri: undefined }));
    for (const near of ['https://app.example.com/cb/', 'https://app.example.com/cb?x=1', 'https://APP.example.com/cb', 'https://app.example.com/c']) refusedWith('invalid_request', () => parse({ ...browser, redirect_uri: near }));
    expect(parse({ ...browser, redirect_uri: 'com.example.app:/cb' }).redirectUri).toBe('com.example.app:/cb');
  });

  it('PAR-5 / PAR-9: a pushed redirect_uri is required and exact when the client has registered ones; optional only when it has none', () => {
    refusedWith('invalid_request', () => parse({ ...browser, redirect_uri: undefined }, 'par'));
    refusedWith('invalid_request', () => parse({ ...browser, redirect_uri: 'https://app.example.com/cb/' }, 'par'));
    expect(parse(browser, 'par').redirectUri).toBe('https://app.example.com/cb');
    const native: Client = { ...client, redirectUris: [] };
    const pushNative = (params: Record<string, unknown>) => parseAuthorizationRequest(native, params, ctx('par'));
    expect(pushNative({ ...browser, redirect_uri: undefined }).redirectUri).toBeUndefined();
    // One sent anyway must still be registered: none is.
    refusedWith('invalid_request', () => pushNative(browser));
    // The browser endpoint always needs one.
    refusedWith('invalid_request', () => parseAuthorizationRequest(native, { ...browser, redirect_uri: undefined }, ctx('browser')));
  });

  it('GEN-2: PKCE S256 is required outside a device’s native request; plain is refused', () => {
    for (const channel of ['browser', 'par', 'native_public'] as const) refusedWith('invalid_request', () => parse({ ...browser, ...(channel.startsWith('native') ? { redirect_uri: undefined } : {}), code_challenge: undefined }, channel));
    refusedWith('invalid_request', () => parse({ ...browser, code_challenge_method: 'plain' }));
    refusedWith('invalid_request', () => parse({ ...browser, code_challenge_method: undefined }));
    expect(parse({ email: 'a@example.com' }, 'native_device')).toMatchObject({ codeChallenge: undefined, loginHint: 'a@example.com' });
  });

  it('response_type: required and code (a device may omit it); another value is unsupported_response_type', () => {
    refusedWith('invalid_request', () => parse({ ...browser, response_type: undefined }));
    refusedWith('unsupported_response_type', () => parse({ ...browser, response_type: 'token' }));
  });

  it('the native endpoint refuses redirect_uri (FIPA-8)', () => {
    refusedWith('invalid_request', () => parse({ ...browser }, 'native_public'));
  });

  it('FED-3/FED-4: native_callback_uri is parsed at PAR and natively as an absolute https claimed link; its trust is NativeCallbackTrust\'s; the browser ignores it', () => {
    const par = { ...browser, native_callback_uri: 'https://app.example.com/native' };
    expect(parse(par, 'par').nativeCallbackUri).toBe('https://app.example.com/native');
    // Any well-formed link parses (trust is asked afterwards, asynchronously).
    expect(parse({ ...par, native_callback_uri: 'https://other.example.com/cb?x=1' }, 'par').nativeCallbackUri).toBe('https://other.example.com/cb?x=1');
    expect(parse(par, 'browser').nativeCallbackUri).toBeUndefined();
    for (const bad of ['http://app.example.com/native', 'com.example.app:/native', 'https://app.example.com/native#frag', 'https://user:pw@app.example.com/native', '/relative', `https://app.example.com/${'a'.repeat(2048)}`, 'https://app.example.com/a b']) {
      refusedWith('invalid_request', () => parse({ ...par, native_callback_uri: bad }, 'par'));
    }
  });

  it('scope, resource, RAR, acr, dpop_jkt, prompt and state are checked for this client', () => {
    refusedWith('invalid_scope', () => parse({ ...browser, scope: 'admin' }));
    refusedWith('invalid_target', () => parse({ ...browser, resource: 'https://other.example.com' }));
    refusedWith('invalid_authorization_details', () => parse({ ...browser, authorization_details: JSON.stringify([{ type: 'payment_initiation' }]) }));
    refusedWith('invalid_request', () => parse({ ...browser, acr_values: 'constructor' }));
    refusedWith('invalid_request', () => parse({ ...browser, dpop_jkt: 'short' }));
    refusedWith('invalid_request', () => parse({ ...browser, prompt: 'none login' }));
    refusedWith('invalid_request', () => parse({ ...browser, prompt: 'select_account' }));
    refusedWith('invalid_request', () => parse({ ...browser, state: 'line\nbreak' }));
    refusedWith('invalid_request', () => parse({ ...browser, state: ['a', 'b'] }));
  });
});
