import { emptyAuthorizationRequest, PushedRequests } from '@fpa/authz-request';
import type { ClientRegistry } from '@fpa/clients';
import { FixedClock, type RequestInfo } from '@fpa/oauth-core';
import { type AuditService, MetricsRegistry } from '@fpa/platform';
import type { DeviceSession, DeviceSessionRepository } from '@fpa/session';
import { MemoryStore } from '@fpa/store';
import { InteractionMetrics } from '../interaction.metrics';
import { FakeAudit, NOW, testClient, testSession } from '../testing/fakes';
import { AppHandoffBinding } from './app-handoff.binding';
import type { Caller } from './caller';
import type { DeviceTokenBinding } from './device-token.binding';

const CALLBACK = 'https://app.as1.example/cb';
const as1 = testClient({ id: 'as1', type: 'confidential', redirectToApp: { deepLink: 'https://app.as2.example/x', appClientIds: ['as2-app'] } });
const request: RequestInfo = { method: 'POST', path: '/authorize-challenge', headers: { authorization: 'DPoP token', dpop: 'proof' }, ip: '203.0.113.9', requestId: 'r-1' };

describe('AppHandoffBinding (FED-14): this server’s app takes a redirect_to_app handoff', () => {
  let store: MemoryStore;
  let pushed: PushedRequests;
  let sessions: Map<string, DeviceSession>;
  let metrics: InteractionMetrics;
  let binding: AppHandoffBinding;
  let appClientId: string;
  let deviceInputs: unknown[];

  beforeEach(() => {
    const clock = new FixedClock(NOW);
    store = new MemoryStore(() => NOW);
    pushed = new PushedRequests(store, clock);
    sessions = new Map([['federated-1', testSession(NOW, { authSession: 'federated-1', clientId: 'as1', kind: 'federated' })]]);
    metrics = new InteractionMetrics(new MetricsRegistry());
    appClientId = 'as2-app';
    deviceInputs = [];
    // The device binding verifies the app's device token and proof (its own specs); here: the app it names.
    const device = {
      applies: (r: RequestInfo) => typeof r.headers.authorization === 'string',
      bind: async (input: unknown): Promise<Caller> => {
        deviceInputs.push(input);
        return { client: testClient({ id: appClientId, firstParty: true }), session: testSession(NOW, { authSession: 'app-session', clientId: appClientId, kind: 'device' }), mode: 'device', jkt: 'app-jkt', created: false };
      },
    } as unknown as DeviceTokenBinding;
    const clients = { find: async (id: string) => (id === 'as1' ? as1 : undefined) } as unknown as ClientRegistry;
    const repo = { find: async (id: string) => sessions.get(id) } as unknown as DeviceSessionRepository;
    binding = new AppHandoffBinding(clock, device, clients, pushed, repo, metrics, new FakeAudit() as unknown as AuditService);
  });
  afterEach(() => store.close());

  const handoff = async (): Promise<string> =>
    (await pushed.push({ request: emptyAuthorizationRequest('as1', { codeChallenge: 'c'.repeat(43), dpopJkt: 'as1-jkt', nativeCallbackUri: CALLBACK, redirectUri: 'https://as1.example/cb' }), authSession: 'federated-1', handoffTo: ['as2-app'] }, 60)).requestUri;
  const refusals = async (): Promise<number> => (await metrics.handoffs.get()).values.find((v) => v.labels.step === 'refused')?.value ?? 0;

  it('applies to a device token with client_id and request_uri only', () => {
    expect(binding.applies(request, { client_id: 'as1', request_uri: 'urn:x' })).toBe(true);
    expect(binding.applies(request, { request_uri: 'urn:x' })).toBe(false);
    expect(binding.applies({ ...request, headers: {} }, { client_id: 'as1', request_uri: 'urn:x' })).toBe(false);
  });

  it('a listed app takes it once: the handed-over request (no redirect URI), the federated session and the callback; the device binding sees neither client_id nor request_uri', async () => {
    const requestUri = await handoff();
    const caller = await binding.bind({ client_id: 'as1', request_uri: requestUri }, request);
    expect(caller).toMatchObject({ mode: 'device', jkt: 'app-jkt', handoff: { authSession: 'federated-1', nativeCallbackUri: CALLBACK }, startWith: { clientId: 'as1', dpopJkt: 'as1-jkt', redirectUri: undefined } });
    expect(deviceInputs).toEqual([{}]);
    await expect(binding.bind({ client_id: 'as1', request_uri: requestUri }, request)).rejects.toMatchObject({ code: 'invalid_request' });
    expect(await refusals()).toBe(1);
  });

  it('an app that is not listed is refused and burns nothing', async () => {
    const requestUri = await handoff();
    appClientId = 'other-app';
    await expect(binding.bind({ client_id: 'as1', request_uri: requestUri }, request)).rejects.toMatchObject({ code: 'invalid_request' });
    appClientId = 'as2-app';
    await expect(binding.bind({ client_id: 'as1', request_uri: requestUri }, request)).resolves.toMatchObject({ handoff: { authSession: 'federated-1' } });
  });

  it('refused when the federated session has ended, or with extra parameters; the app’s own client_id is a plain device request', async () => {
    sessions.clear();
    await expect(binding.bind({ client_id: 'as1', request_uri: await handoff() }, request)).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(binding.bind({ client_id: 'as1', request_uri: await handoff(), scope: 'openid' }, request)).rejects.toMatchObject({ code: 'invalid_request' });
    const own = await binding.bind({ client_id: 'as2-app', request_uri: 'urn:ietf:params:oauth:request_uri:own' }, request);
    expect(own.handoff).toBeUndefined();
    expect(own.startWith).toBeUndefined();
  });
});
