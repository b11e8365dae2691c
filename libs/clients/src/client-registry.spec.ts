import type { Repository } from 'typeorm';
import { ClientRegistry } from './client-registry.service';
import type { ClientEntity } from './client.entity';

/** A repository whose lookups wait until released, and which counts them. */
class SlowRows {
  calls = 0;
  readonly rows = new Map<string, Partial<ClientEntity>>();
  private readonly waiting: (() => void)[] = [];
  async findOneBy(where: { clientId: string }): Promise<ClientEntity | null> {
    this.calls++;
    // The row as it was when the SELECT ran; the answer arrives on release().
    const row = this.rows.get(where.clientId);
    await new Promise<void>((r) => this.waiting.push(r));
    return row ? ({ ...row } as ClientEntity) : null;
  }
  release(): void {
    for (const r of this.waiting.splice(0)) r();
  }
}

const row = (clientId: string, enabled = true): Partial<ClientEntity> =>
  ({ clientId, name: clientId, clientType: 'public', firstParty: true, grantTypes: ['fp_register'], authMethods: ['none'], secretHash: null, scopes: [], resources: [], permissions: [], dpopBoundAccessTokens: false, challengePolicy: null, enabled }) as Partial<ClientEntity>;

describe('ClientRegistry: one lookup per client in flight (issue 13)', () => {
  let rows: SlowRows;
  let registry: ClientRegistry;
  beforeEach(() => {
    rows = new SlowRows();
    registry = new ClientRegistry(rows as unknown as Repository<ClientEntity>);
  });
  const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

  it('concurrent misses share one SELECT, and the answer is cached', async () => {
    rows.rows.set('app', row('app'));
    const finds = Array.from({ length: 10 }, () => registry.find('app'));
    await settle();
    rows.release();
    const clients = await Promise.all(finds);
    expect(rows.calls).toBe(1);
    expect(clients.every((c) => c?.id === 'app')).toBe(true);
    expect((await registry.find('app'))?.id).toBe('app');
    expect(rows.calls).toBe(1);
  });

  it('a disabled or unknown client is undefined for every waiter', async () => {
    rows.rows.set('off', row('off', false));
    const finds = [registry.find('off'), registry.find('off'), registry.find('nope'), registry.find('nope')];
    await settle();
    rows.release();
    expect(await Promise.all(finds)).toEqual([undefined, undefined, undefined, undefined]);
    expect(rows.calls).toBe(2);
  });

  it('invalidate during a lookup: the old lookup does not refill the cache, the next find asks again', async () => {
    rows.rows.set('app', row('app'));
    const first = registry.find('app');
    await settle();
    registry.invalidate('app');
    rows.rows.set('app', row('app', false));
    const second = registry.find('app');
    await settle();
    expect(rows.calls).toBe(2);
    rows.release();
    expect((await first)?.id).toBe('app');
    expect(await second).toBeUndefined();
    // Cached by the second lookup (disabled), not by the first (enabled).
    expect(await registry.find('app')).toBeUndefined();
    expect(rows.calls).toBe(2);
  });

  it('a failed lookup is not kept: the next find asks again', async () => {
    const failing = { calls: 0, findOneBy: async () => { failing.calls++; throw new Error('db down'); } };
    const r = new ClientRegistry(failing as unknown as Repository<ClientEntity>);
    await expect(r.find('app')).rejects.toThrow('db down');
    await expect(r.find('app')).rejects.toThrow('db down');
    expect(failing.calls).toBe(2);
  });
});
