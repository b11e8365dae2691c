import { generateKeyPairSync } from 'node:crypto';
import { generateClientKeyPair, type ClientKeyPair } from '@fpa/crypto';
import {
  clientDefinitionRules,
  ClientDefinitionError,
  parseClientDefinition,
  redirectUriProblem,
  STRICT_CLIENT_RULES,
  validateClientDefinition,
  type ClientDefinitionRules,
} from './client-definition';

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

  it('FED-8/FED-14: redirect_to_app = {deep_link (https, no query or fragment), app_client_ids (1–20)}', () => {
    const redirect_to_app = { deep_link: 'https://app.as2.example/native-authorization', app_client_ids: ['as2-app'] };
    expect(parseClientDefinition({ ...web, redirect_to_app }).redirect_to_app).toEqual(redirect_to_app);
    for (const bad of [
      { ...redirect_to_app, deep_link: 'http://app.as2.example/x' },
      { ...redirect_to_app, deep_link: 'https://app.as2.example/x?y=1' },
      { ...redirect_to_app, deep_link: 'https://app.as2.example/x#y' },
      { ...redirect_to_app, app_client_ids: [] },
      { ...redirect_to_app, app_client_ids: ['a', 'a'] },
      { ...redirect_to_app, extra: 1 },
      'https://app.as2.example/x',
    ]) {
      expect(() => parseClientDefinition({ ...web, redirect_to_app: bad })).toThrow(/redirect_to_app/);
    }
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

describe('private_key_jwt clients: a definition that could never authenticate is refused (JWTCA-1…8, issue 9)', () => {
  let keys: ClientKeyPair[];
  beforeAll(async () => {
    keys = await Promise.all([generateClientKeyPair('ES256'), generateClientKeyPair('PS256')]);
  });
  const confidential = { client_id: 'svc', type: 'confidential', auth_methods: ['private_key_jwt'], grant_types: ['client_credentials'] };
  const jwks = (...extra: Record<string, unknown>[]): { keys: Record<string, unknown>[] } => ({ keys: [{ ...keys[0].publicJwk, kid: 'a' }, { ...keys[1].publicJwk, kid: 'b' }, ...extra] });
  const problem = (input: Record<string, unknown>, rules: ClientDefinitionRules = STRICT_CLIENT_RULES): string => {
    try {
      parseClientDefinition(input, rules);
    } catch (e) {
      expect(e).toBeInstanceOf(ClientDefinitionError);
      return (e as Error).message;
    }
    throw new Error('expected the definition to be refused');
  };

  it('confidential + private_key_jwt needs jwks xor jwks_uri', () => {
    expect(problem(confidential)).toMatch(/client svc: a confidential client with private_key_jwt needs its public keys in jwks or jwks_uri/);
    expect(problem({ ...confidential, jwks: jwks(), jwks_uri: 'https://svc.example.com/jwks' })).toMatch(/use jwks or jwks_uri, not both/);
    expect(parseClientDefinition({ ...confidential, jwks: jwks() }).jwks?.keys).toHaveLength(2);
    expect(parseClientDefinition({ ...confidential, jwks_uri: 'https://svc.example.com/jwks' }).jwks_uri).toBe('https://svc.example.com/jwks');
    // A device client signs with its devices' keys: no key set needed.
    expect(() => parseClientDefinition({ ...base, auth_methods: ['private_key_jwt', 'none'] })).not.toThrow();
    // A confidential client with a secret method still works without keys.
    expect(() => parseClientDefinition({ ...confidential, auth_methods: ['client_secret_basic'] })).not.toThrow();
  });

  it('confidential clients cannot list none', () => {
    expect(problem({ ...confidential, jwks: jwks(), auth_methods: ['private_key_jwt', 'none'] })).toMatch(/confidential clients cannot use none/);
  });

  it('jwks: public keys only — a set with private members is refused, named, without echoing the key', () => {
    const privateJwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
    const message = problem({ ...confidential, jwks: { keys: [{ ...privateJwk, kid: 'p' }] } });
    expect(message).toMatch(/jwks key 0 holds private or symmetric key material/);
    expect(message).not.toContain(privateJwk.d);
    expect(problem({ ...confidential, jwks: jwks({ kty: 'oct', k: 'c2VjcmV0', kid: 'h' }) })).toMatch(/jwks key 2 holds private or symmetric key material/);
  });

  it('jwks: unique kids, at most CLIENT_JWKS_MAX_KEYS keys, at most CLIENT_JWKS_MAX_BYTES, a JWK Set object', () => {
    expect(problem({ ...confidential, jwks: { keys: [{ ...keys[0].publicJwk, kid: 'a' }, { ...keys[1].publicJwk, kid: 'a' }] } })).toMatch(/jwks kid "a" is used twice/);
    expect(problem({ ...confidential, jwks: { keys: [keys[0].publicJwk, keys[1].publicJwk] } })).toMatch(/jwks every key needs a kid/);
    const rules = { ...STRICT_CLIENT_RULES, jwksMaxKeys: 2 };
    expect(problem({ ...confidential, jwks: jwks({ ...keys[0].publicJwk, kid: 'c' }) }, rules)).toMatch(/jwks holds more than 2 keys/);
    expect(problem({ ...confidential, jwks: jwks() }, { ...STRICT_CLIENT_RULES, jwksMaxBytes: 200 })).toMatch(/jwks is larger than 200 bytes/);
    expect(problem({ ...confidential, jwks: [keys[0].publicJwk] })).toMatch(/jwks must be a JWK Set object/);
    expect(problem({ ...confidential, jwks: { keys: [{ kty: 'EC', crv: 'P-192', x: 'AA', y: 'AA' }] } })).toMatch(/jwks a key must be EC P-256\/P-384\/P-521, Ed25519 or RSA/);
  });

  it('jwks: every key must import (checked with jose when the definition is validated)', async () => {
    const offCurve = { ...keys[0].publicJwk, y: Buffer.alloc(32, 7).toString('base64url'), kid: 'bad' };
    expect(() => parseClientDefinition({ ...confidential, jwks: { keys: [offCurve] } })).not.toThrow();
    await expect(validateClientDefinition({ ...confidential, jwks: { keys: [offCurve] } })).rejects.toThrow(/client svc: jwks key 0 \(kid "bad"\) is not a valid public key/);
    await expect(validateClientDefinition({ ...confidential, jwks: jwks() })).resolves.toMatchObject({ client_id: 'svc' });
  });

  it('jwks_uri: absolute https; http on a loopback host only outside production; no credentials or fragment', () => {
    const loose = { ...STRICT_CLIENT_RULES, allowHttpLoopbackJwksUri: true };
    expect(problem({ ...confidential, jwks_uri: 'http://127.0.0.1:8080/jwks' })).toMatch(/jwks_uri must be an https URL$/);
    expect(parseClientDefinition({ ...confidential, jwks_uri: 'http://127.0.0.1:8080/jwks' }, loose).jwks_uri).toBe('http://127.0.0.1:8080/jwks');
    expect(parseClientDefinition({ ...confidential, jwks_uri: 'http://localhost/jwks' }, loose).jwks_uri).toBe('http://localhost/jwks');
    expect(problem({ ...confidential, jwks_uri: 'http://svc.example.com/jwks' }, loose)).toMatch(/jwks_uri must be an https URL \(http only on a loopback host\)/);
    expect(problem({ ...confidential, jwks_uri: '/jwks' })).toMatch(/jwks_uri must be an absolute https URL/);
    expect(problem({ ...confidential, jwks_uri: 'https://u:p@svc.example.com/jwks' })).toMatch(/jwks_uri must not contain credentials/);
    expect(problem({ ...confidential, jwks_uri: 'https://svc.example.com/jwks#k' })).toMatch(/jwks_uri must not contain a fragment/);
    expect(problem({ ...confidential, jwks_uri: 'ftp://svc.example.com/jwks' })).toMatch(/jwks_uri must be an https URL/);
  });

  it('the deployment rules come from CLIENT_JWKS_* and APP_MODE', () => {
    const config = { clientJwks: { maxBytes: 2048, maxKeys: 3, allowHttpLoopback: true } } as Parameters<typeof clientDefinitionRules>[0];
    expect(clientDefinitionRules(config)).toEqual({ allowHttpLoopbackJwksUri: true, jwksMaxBytes: 2048, jwksMaxKeys: 3 });
  });
});
