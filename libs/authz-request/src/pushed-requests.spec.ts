import { MemoryStore } from '@fpa/store';
import type { Clock } from '@fpa/oauth-core';
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
  let now: number;
  beforeEach(() => {
    now = 1_800_000_000_000;
    store = new MemoryStore(() => 1_800_000_000_000);
    pushed = new PushedRequests(store, { nowMs: () => now, nowSeconds: () => Math.floor(now / 1000) } as Clock);
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

  it('PAR-7: expired by the service clock, whatever the store still holds', async () => {
    const { requestUri } = await pushed.push({ request: request('a') }, 60);
    now += 60_000;
    await expect(pushed.consume(requestUri, 'a')).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('malformed or unknown references are refused the same way', async () => {
    for (const uri of ['', 'urn:ietf:params:oauth:request_uri:short', 'https://example.com/r', `${REQUEST_URI_PREFIX}${'A'.repeat(43)}`]) {
      await expect(pushed.consume(uri, 'a')).rejects.toMatchObject({ code: 'invalid_request' });
    }
  });
});
