import { PushedRequests } from '@fpa/authz-request';
import type { AuditService } from '@fpa/platform';
import type { Turn } from '../loop/turn';
import { Core } from '../testing/core';
import { otpMethod } from '../testing/fakes';
import { RedirectToAppRouting } from './redirect-to-app.routing';

const CALLBACK = 'https://app.as1.example/cb';
const POLICY = { deepLink: 'https://app.as2.example/native-authorization', appClientIds: ['as2-app'] };

describe('RedirectToAppRouting (FED-8/FED-14): policy data per client, only with a trusted native_callback_uri', () => {
  let core: Core;
  let pushed: PushedRequests;
  let rule: RedirectToAppRouting;
  const make = (redirectToApp: typeof POLICY | null): void => {
    core = new Core({ methods: [otpMethod()], client: { id: 'as1', type: 'confidential', redirectToApp }, env: { PAR_REQUEST_URI_TTL_SECONDS: '45' } });
    pushed = new PushedRequests(core.store, core.clock);
    rule = new RedirectToAppRouting(core.config, pushed, core.flows, core.metrics, core.audit as unknown as AuditService);
  };
  afterEach(async () => core.close());
  const started = (turn: Turn): Turn => ({ ...turn, started: true });

  it('hands the flow over: a single-use handoff for the listed apps, the flow ended, the deep link with client_id and request_uri', async () => {
    make(POLICY);
    const turn = started(await core.turn({ mode: 'federated', request: { clientId: 'as1', nativeCallbackUri: CALLBACK } }));
    const outcome = await rule.route(turn);
    expect(outcome).toMatchObject({ kind: 'redirect_to_app', authSession: turn.caller.session.authSession, expiresIn: 45 });
    const link = new URL((outcome as { deepLink: string }).deepLink);
    expect(`${link.origin}${link.pathname}`).toBe(POLICY.deepLink);
    expect(link.searchParams.get('client_id')).toBe('as1');
    expect(await core.stored(turn.caller.session.authSession)).toBeUndefined();
    const taken = await pushed.consumeHandoff(link.searchParams.get('request_uri')!, 'as1', () => undefined);
    expect(taken).toMatchObject({ authSession: turn.caller.session.authSession, handoffTo: ['as2-app'], request: { nativeCallbackUri: CALLBACK } });
    expect(core.audit.events).toEqual([expect.objectContaining({ type: 'federation.redirect_to_app', clientId: 'as1' })]);
  });

  it('does nothing without the policy, without a native_callback_uri, after the first turn, in the browser, or for the app completing a handoff', async () => {
    make(null);
    expect(await rule.route(started(await core.turn({ request: { nativeCallbackUri: CALLBACK } })))).toBeUndefined();
    await core.close();
    make(POLICY);
    expect(await rule.route(started(await core.turn({ mode: 'federated' })))).toBeUndefined();
    expect(await rule.route(await core.turn({ mode: 'federated', request: { nativeCallbackUri: CALLBACK } }))).toBeUndefined();
    const browser = started(await core.turn({ request: { nativeCallbackUri: CALLBACK } }));
    expect(await rule.route({ ...browser, caller: { ...browser.caller, mode: 'browser' } })).toBeUndefined();
    expect(await rule.route(started(await core.turn({ mode: 'device', request: { nativeCallbackUri: CALLBACK }, handoff: { authSession: 'x', nativeCallbackUri: CALLBACK } })))).toBeUndefined();
  });

  it('a flow another request moved meanwhile is not handed over twice (FlowConflict: the loop retries)', async () => {
    make(POLICY);
    const turn = started(await core.turn({ mode: 'federated', request: { nativeCallbackUri: CALLBACK } }));
    await core.flows.save(turn.flow, turn.version);
    await expect(rule.route(turn)).rejects.toThrow('concurrently');
  });
});
