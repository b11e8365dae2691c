import type { ClientRegistry } from '@fpa/clients';
import { createDpopProof, generateClientKeyPair, type ClientKeyPair } from '@fpa/crypto';
import { DpopMetrics, DpopService } from '@fpa/dpop';
import { FixedClock, type RequestInfo } from '@fpa/oauth-core';
import { MetricsRegistry } from '@fpa/platform';
import type { DeviceSession, DeviceSessionRepository } from '@fpa/session';
import { MemoryStore } from '@fpa/store';
import type { ChallengeInput } from '../http/challenge-request';
import { ISSUER, NOW, testClient, testConfig, testSession } from '../testing/fakes';
import { FederatingClientBinding } from './federating-client.binding';
import { RequestSessions } from './request-sessions';

const as1 = testClient({ id: 'as1', type: 'confidential', firstParty: false });
const app = testClient({ id: 'first-party-app', type: 'public', firstParty: true });

describe('FederatingClientBinding (FED-11): the end user’s app with a federating client’s request_uri', () => {
  let store: MemoryStore;
  let dpop: DpopService;
  let sessions: Map<string, DeviceSession>;
  let created: DeviceSession[];
  let binding: FederatingClientBinding;
  let key: ClientKeyPair;

  beforeAll(async () => {
    key = await generateClientKeyPair();
  });
  beforeEach(() => {
    const clock = new FixedClock(NOW);
    const config = testConfig();
    store = new MemoryStore(() => NOW, { genesis: true });
    dpop = new DpopService(config, clock, new DpopMetrics(new MetricsRegistry()));
    sessions = new Map();
    created = [];
    const repo = {
      find: async (id: string) => sessions.get(id),
      create: async (s: DeviceSession) => void created.push(s),
      discardUnused: async () => undefined,
    } as unknown as DeviceSessionRepository;
    const clients = { find: async (id: string) => [as1, app].find((c) => c.id === id) } as unknown as ClientRegistry;
    binding = new FederatingClientBinding(config, clock, clients, repo, new RequestSessions(repo), dpop);
  });
  afterEach(() => store.close());

  const request = async (k: ClientKeyPair = key, headers: Record<string, string> = {}): Promise<RequestInfo> => ({
    method: 'POST',
    path: '/authorize-challenge',
    headers: { dpop: await createDpopProof(k, { htm: 'POST', htu: `${ISSUER}/authorize-challenge`, nonce: dpop.currentNonce(), iat: Math.floor(NOW / 1000) }), ...headers },
    ip: '203.0.113.9',
    requestId: 'r-1',
  });

  it('applies without Authorization to a confidential client’s request_uri, or to a follow-up of a federated session — never to first-party clients’ requests', async () => {
    sessions.set('fed', testSession(NOW, { authSession: 'fed', clientId: 'as1', kind: 'federated' }));
    sessions.set('fp', testSession(NOW, { authSession: 'fp', kind: 'challenge' }));
    const r = await request();
    expect(await binding.applies(r, { client_id: 'as1', request_uri: 'urn:x' })).toBe(true);
    expect(await binding.applies(r, { auth_session: 'fed' })).toBe(true);
    expect(await binding.applies(r, { client_id: app.id, request_uri: 'urn:x' })).toBe(false);
    expect(await binding.applies(r, { client_id: 'as1', response_type: 'code' })).toBe(false);
    expect(await binding.applies(r, { auth_session: 'fp' })).toBe(false);
    expect(await binding.applies({ ...r, headers: { ...r.headers, authorization: 'DPoP t' } }, { client_id: 'as1', request_uri: 'urn:x' })).toBe(false);
  });

  it('creates a federated session for the client, bound to the app’s key, stored only when the request proves valid', async () => {
    const input: ChallengeInput = { client_id: 'as1', request_uri: 'urn:x' };
    const caller = await binding.bind(input, await request());
    expect(caller).toMatchObject({ client: { id: 'as1' }, mode: 'federated', jkt: key.jkt, created: true, session: { kind: 'federated', clientId: 'as1', keyJkt: key.jkt } });
    // DPOP-14: the proof's jti is left to the loop, which claims it with the request's admission.
    expect(caller.claims?.map((v) => v.claim.key)).toEqual([expect.stringMatching(/^jti:dpop:/)]);
    expect(created).toEqual([]);
    await caller.pending!.persist();
    expect(created).toHaveLength(1);
    await expect(binding.bind({ ...input, scope: 'openid' }, await request())).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('FIPA-26: a follow-up proves the session’s key; another key is invalid_session', async () => {
    sessions.set('fed', testSession(NOW, { authSession: 'fed', clientId: 'as1', kind: 'federated', keyJkt: key.jkt }));
    await expect(binding.bind({ auth_session: 'fed' }, await request())).resolves.toMatchObject({ mode: 'federated', created: false, session: { authSession: 'fed' } });
    const other = await generateClientKeyPair();
    await expect(binding.bind({ auth_session: 'fed' }, await request(other))).rejects.toMatchObject({ code: 'invalid_session' });
  });
});
