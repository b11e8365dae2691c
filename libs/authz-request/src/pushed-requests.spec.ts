import { FixedClock } from '@fpa/oauth-core';
import { MemoryStore } from '@fpa/store';
import type { AuthorizationRequest } from './authorization-request';
import { PushedRequests, REQUEST_URI_PREFIX } from './pushed-requests';

const request = (clientId: string): AuthorizationRequest => ({
  clientId,
  responseType: 'code',
  redirectUri: 'https://app.example.com/cb',
  scopes: ['openid'],
  state: undefined,
  codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
  acrValues: undefined,
  maxAge: undefined,
  loginHint: undefined,
  resource: undefined,
  authorizationDetails: undefined,
  dpopJkt: undefined,
  nativeCallbackUri: undefined,
  prompt: [],
});

describe('PushedRequests (RFC 9126)', () => {
  let store: MemoryStore;
  let pushed: PushedRequests;
  let clock: FixedClock;
  beforeEach(() => {
    // The store keeps its own time (as Redis does): only the server's clock moves.
    store = new MemoryStore(() => 1_800_000_000_000);
    clock = new FixedClock(1_800_000_000_000);
    pushed = new PushedRequests(store, clock);
  });
  afterEach(() => store.close());

  it('PAR-7: an unguessable urn, single use (PAR-10)', async () => {
    const { requestUri, expiresIn } = await pushed.push({ request: request('a') }, 60);
    expect(requestUri).toMatch(new RegExp(`^${REQUEST_URI_PREFIX}[A-Za-z0-9_-]{43}$`));
    expect(expiresIn).toBe(60);
    await expect(pushed.consume(requestUri, 'a')).resolves.toMatchObject({ request: { clientId: 'a' } });
    await expect(pushed.consume(requestUri, 'a')).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('PAR-10: bound to the client that pushed it; another client neither uses nor burns it', async () => {
    const { requestUri } = await pushed.push({ request: request('a') }, 60);
    await expect(pushed.consume(requestUri, 'b')).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(pushed.consume(requestUri, 'a')).resolves.toBeDefined();
  });

  it('malformed or unknown references are refused the same way', async () => {
    for (const uri of ['', 'urn:ietf:params:oauth:request_uri:short', 'https://example.com/r', `${REQUEST_URI_PREFIX}${'A'.repeat(43)}`]) {
      await expect(pushed.consume(uri, 'a')).rejects.toMatchObject({ code: 'invalid_request' });
    }
  });

  it('PAR-10: expired by the server clock even while the store still holds it; nothing else is returned', async () => {
    const { requestUri } = await pushed.push({ request: request('a'), authSession: 's-1' }, 60);
    const { requestUri: other } = await pushed.push({ request: request('a') }, 60);
    await expect(pushed.consume(other, 'a')).resolves.toEqual({ request: request('a') });
    clock.advance(60);
    await expect(pushed.consume(requestUri, 'a')).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('a request consumed just before expiry keeps its continuation (FIPA-21 auth_session)', async () => {
    const { requestUri } = await pushed.push({ request: request('a'), authSession: 's-1' }, 60);
    clock.advance(59);
    await expect(pushed.consume(requestUri, 'a')).resolves.toEqual({ request: request('a'), authSession: 's-1' });
  });

  it('a caller refused by `accept` (another binding of the request) neither uses nor burns it', async () => {
    const { requestUri } = await pushed.push({ request: { ...request('a'), dpopJkt: 'k1' } }, 60);
    const sameKey = (jkt: string) => (p: { request: { dpopJkt: string | undefined } }) => {
      if (p.request.dpopJkt !== jkt) throw new Error('another key');
    };
    await expect(pushed.consume(requestUri, 'a', sameKey('k2'))).rejects.toThrow('another key');
    await expect(pushed.consume(requestUri, 'a', sameKey('k1'))).resolves.toMatchObject({ request: { dpopJkt: 'k1' } });
  });

  it('FED-8/FED-14: a handoff is taken only by consumeHandoff (never as a pushed request), once, and a refusing accept burns nothing', async () => {
    const { requestUri } = await pushed.push({ request: request('as1'), authSession: 'federated-1', handoffTo: ['as2-app'] }, 60);
    await expect(pushed.consume(requestUri, 'as1')).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(
      pushed.consumeHandoff(requestUri, 'as1', () => {
        throw new Error('another app');
      }),
    ).rejects.toThrow('another app');
    await expect(pushed.consumeHandoff(requestUri, 'as2-app', () => undefined)).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(pushed.consumeHandoff(requestUri, 'as1', () => undefined)).resolves.toEqual({ request: request('as1'), authSession: 'federated-1', handoffTo: ['as2-app'] });
    await expect(pushed.consumeHandoff(requestUri, 'as1', () => undefined)).rejects.toMatchObject({ code: 'invalid_request' });
    // A pushed request is not a handoff.
    const plain = (await pushed.push({ request: request('as1') }, 60)).requestUri;
    await expect(pushed.consumeHandoff(plain, 'as1', () => undefined)).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(pushed.consume(plain, 'as1')).resolves.toMatchObject({ request: { clientId: 'as1' } });
  });
});
