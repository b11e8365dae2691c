import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Repository } from 'typeorm';
import type { AppConfig } from '@fpa/config';
import { generateClientKeyPair, type ClientKeyPair } from '@fpa/crypto';
import { ClientAdminService } from './client-admin.service';
import { ClientDefinitionError } from './client-definition';
import type { ClientEntity } from './client.entity';
import type { ClientRegistry } from './client-registry.service';

/** The few repository calls the admin service makes, over a Map. */
class FakeClientRows {
  readonly rows = new Map<string, ClientEntity>();
  async existsBy(where: { clientId: string }): Promise<boolean> {
    return this.rows.has(where.clientId);
  }
  async findOneBy(where: { clientId: string }): Promise<ClientEntity | null> {
    return this.rows.get(where.clientId) ?? null;
  }
  async save(e: ClientEntity): Promise<ClientEntity> {
    this.rows.set(e.clientId, e);
    return e;
  }
}

const clientJwks = { cacheSeconds: 300, minCacheSeconds: 60, maxCacheSeconds: 86_400, cooldownSeconds: 30, staleGraceSeconds: 600, fetchTimeoutMs: 3000, maxBytes: 65_536, maxKeys: 20 };

describe('ClientAdminService: what the CLI and CLIENTS_FILE write (issue 9)', () => {
  let key: ClientKeyPair;
  let rows: FakeClientRows;
  let dir: string;
  beforeAll(async () => {
    key = await generateClientKeyPair('ES256');
    dir = mkdtempSync(join(tmpdir(), 'fpa-clients-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => {
    rows = new FakeClientRows();
  });
  const admin = (allowHttpLoopback = false): ClientAdminService =>
    new ClientAdminService(rows as unknown as Repository<ClientEntity>, { invalidate: () => undefined } as unknown as ClientRegistry, { clientJwks: { ...clientJwks, allowHttpLoopback } } as AppConfig);
  const jwks = (): { keys: unknown[] } => ({ keys: [{ ...key.publicJwk, kid: 'k1' }] });

  it('a private_key_jwt-only confidential client gets no secret: none is printed, none is stored', async () => {
    const created = await admin().create({ client_id: 'svc', type: 'confidential', auth_methods: ['private_key_jwt'], grant_types: ['client_credentials'], jwks: jwks() });
    expect(created.secret).toBeUndefined();
    expect(created.client).toMatchObject({ secretHash: null, authMethods: ['private_key_jwt'], jwks: jwks() });
  });

  it('a confidential client with a secret method still gets its secret once', async () => {
    const created = await admin().create({ client_id: 'rs', type: 'confidential', permissions: ['introspect'] });
    expect(created.secret).toEqual(expect.any(String));
    expect(created.client.secretHash).toEqual(expect.any(String));
  });

  it('refuses a client that could never authenticate, storing nothing', async () => {
    await expect(admin().create({ client_id: 'svc', type: 'confidential', auth_methods: ['private_key_jwt'] })).rejects.toThrow(/needs its public keys in jwks or jwks_uri/);
    await expect(admin().create({ client_id: 'svc', type: 'confidential', auth_methods: ['private_key_jwt'], jwks: { keys: [{ ...key.publicJwk, d: 'AAAA' }] } })).rejects.toThrow(ClientDefinitionError);
    expect(rows.rows.size).toBe(0);
  });

  it('jwks_uri over http on a loopback host only outside production', async () => {
    const def = { client_id: 'svc', type: 'confidential', auth_methods: ['private_key_jwt'], jwks_uri: 'http://127.0.0.1:9999/jwks' };
    await expect(admin(false).create(def)).rejects.toThrow(/jwks_uri must be an https URL/);
    await expect(admin(true).create(def)).resolves.toMatchObject({ client: { jwksUri: 'http://127.0.0.1:9999/jwks' } });
  });

  it('CLIENTS_FILE: every definition is checked before any is written; a private_key_jwt client needs no secret_hash', async () => {
    const good = { client_id: 'svc', type: 'confidential', auth_methods: ['private_key_jwt'], jwks_uri: 'https://svc.example.com/jwks' };
    const bad = { client_id: 'leaky', type: 'confidential', auth_methods: ['private_key_jwt'], jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } };
    const file = join(dir, 'clients.json');
    writeFileSync(file, JSON.stringify({ clients: [good, bad] }));
    await expect(admin().loadFile(file)).rejects.toThrow(/client leaky: jwks key 0 holds private or symmetric key material/);
    expect(rows.rows.size).toBe(0);
    writeFileSync(file, JSON.stringify({ clients: [good] }));
    await expect(admin().loadFile(file)).resolves.toMatchObject([{ id: 'svc', secretHash: null }]);
  });
});
