import { emptyAuthorizationRequest } from '@fpa/authz-request';
import { FixedClock } from '@fpa/oauth-core';
import { MemoryStore, StoreKeys } from '@fpa/store';
import { NOW, testConfig } from '../testing/fakes';
import { FlowConflict, type FlowState } from './flow-state';
import { EphemeralFlowStore } from './flow-store';

const flow = (overrides: Partial<FlowState> = {}): FlowState => ({
  flowId: 'flow-1',
  authSession: 'session-1',
  clientId: 'native-app',
  mode: 'public',
  dpopJkt: 'jkt-1',
  request: emptyAuthorizationRequest('native-app', { scopes: ['openid'] }),
  active: undefined,
  createdAt: NOW,
  ...overrides,
});

describe('EphemeralFlowStore: the FlowStore port over the ephemeral store (compare-and-set)', () => {
  let clock: FixedClock;
  let store: MemoryStore;
  let flows: EphemeralFlowStore;

  beforeEach(() => {
    clock = new FixedClock(NOW);
    store = new MemoryStore(() => clock.nowMs());
    flows = new EphemeralFlowStore(store, testConfig({ CHALLENGE_FLOW_TTL_SECONDS: '600' }));
  });
  afterEach(async () => store.close());

  it('creates at version 0, then each write names the version it read and gets the next', async () => {
    await expect(flows.load('session-1')).resolves.toBeUndefined();
    await expect(flows.save(flow(), 0)).resolves.toBe(1);
    await expect(flows.save(flow({ flowId: 'flow-2' }), 1)).resolves.toBe(2);
    await expect(flows.load('session-1')).resolves.toEqual({ flow: flow({ flowId: 'flow-2' }), version: 2 });
  });

  it('a write at a stale version is a FlowConflict and changes nothing (the loser re-reads)', async () => {
    await flows.save(flow(), 0);
    await flows.save(flow({ flowId: 'winner' }), 1);
    await expect(flows.save(flow({ flowId: 'loser' }), 1)).rejects.toBeInstanceOf(FlowConflict);
    await expect(flows.save(flow({ flowId: 'loser' }), 0)).rejects.toBeInstanceOf(FlowConflict);
    expect((await flows.load('session-1'))?.flow.flowId).toBe('winner');
  });

  it('complete ends the flow only at the version it names', async () => {
    await flows.save(flow(), 0);
    await flows.save(flow({ flowId: 'moved-on' }), 1);
    await flows.complete('session-1', 1);
    expect((await flows.load('session-1'))?.flow.flowId).toBe('moved-on');
    await flows.complete('session-1', 2);
    await expect(flows.load('session-1')).resolves.toBeUndefined();
  });

  it('restore puts a flow back over the version just written, and gives up quietly when someone moved on', async () => {
    await flows.save(flow(), 0);
    const written = await flows.save(flow({ flowId: 'with-challenge' }), 1);
    await flows.restore(flow(), written);
    await expect(flows.load('session-1')).resolves.toEqual({ flow: flow(), version: 3 });
    await expect(flows.restore(flow({ flowId: 'stale' }), written)).resolves.toBeUndefined();
    expect((await flows.load('session-1'))?.flow.flowId).toBe('flow-1');
  });

  it('a flow lapses after CHALLENGE_FLOW_TTL_SECONDS without a write', async () => {
    await flows.save(flow(), 0);
    clock.advance(599);
    await flows.save(flow(), 1);
    clock.advance(599);
    await expect(flows.load('session-1')).resolves.toBeDefined();
    clock.advance(2);
    await expect(flows.load('session-1')).resolves.toBeUndefined();
  });

  it('a flow written by an earlier release (no flowId) is not resumed', async () => {
    await store.compareAndSet(StoreKeys.challengeFlow('session-1'), 0, { authSession: 'session-1', method: 'email_otp' }, 600);
    await expect(flows.load('session-1')).resolves.toBeUndefined();
  });
});
