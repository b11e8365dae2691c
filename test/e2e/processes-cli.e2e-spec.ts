import { FirstPartyClient } from '@fpa/client-sdk';
import { generateClientKeyPair } from '@fpa/crypto';
import { postForm } from '../support/http';
import { cli } from '../support/processes';
import { createSuiteEnv, DEVICE_CLIENT, spawnApp, type AppProcess, type SuiteEnv } from '@fpa/testing';

/**
 * The administration CLI (CONTRACT §8: migrations, clients, sessions, keys) against a suite database,
 * with the built apps as real processes.
 */

// Processes start in seconds on a shared machine (the e2e project's testTimeout is not applied per project).
jest.setTimeout(60_000);

describe('administration CLI against a suite database', () => {
  let suite: SuiteEnv;
  let registration: AppProcess | undefined;

  beforeAll(async () => {
    suite = await createSuiteEnv('cli');
  });
  afterAll(async () => {
    await registration?.stop();
    await suite?.dispose();
  });

  it('`migration run` migrates a fresh database, then reports it up to date', async () => {
    const first = await cli(suite.env, 'migration', 'run');
    expect(first).toMatchObject({ code: 0, output: expect.stringMatching(/applied: /) });
    const second = await cli(suite.env, 'migration', 'run');
    expect(second.code).toBe(0);
    expect(second.output).toContain('schema is up to date');
  });

  it('`client create`, `client disable`, `client list`', async () => {
    const [created, other, broken] = await Promise.all([
      cli(suite.env, 'client', 'create', JSON.stringify(DEVICE_CLIENT)),
      cli(suite.env, 'client', 'create', JSON.stringify({ ...DEVICE_CLIENT, client_id: 'blocked-app' })),
      cli(suite.env, 'client', 'create', '{not json'),
    ]);
    expect(created.code).toBe(0);
    expect(created.output).toMatch(/^created native-app\tpublic first-party\tenabled\t/m);
    expect(other.code).toBe(0);
    expect(broken.code).toBe(1);
    expect(broken.output).toMatch(/^error: /m);
    const disabled = await cli(suite.env, 'client', 'disable', 'blocked-app');
    expect(disabled.code).toBe(0);
    expect(disabled.output).toMatch(/^blocked-app\t.*\tDISABLED\t/m);
    const list = await cli(suite.env, 'client', 'list');
    expect(list.code).toBe(0);
    expect(list.output).toMatch(/^native-app\t.*\tenabled\t/m);
    expect(list.output).toMatch(/^blocked-app\t.*\tDISABLED\t/m);
    expect(await suite.db.query('SELECT client_id, enabled FROM clients ORDER BY client_id')).toEqual([
      { client_id: 'blocked-app', enabled: false },
      { client_id: 'native-app', enabled: true },
    ]);
  });

  it('a disabled client gets invalid_client at /register of a freshly started app', async () => {
    registration = await spawnApp('registration', suite.env);
    const key = JSON.stringify((await generateClientKeyPair()).publicJwk);
    const refused = await postForm(`${registration.url}/register`, { client_id: 'blocked-app', public_key: key });
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('invalid_client');
    const ok = await postForm(`${registration.url}/register`, { client_id: 'native-app', public_key: key });
    expect(ok.status).toBe(200);
    expect(ok.body.token_type).toBe('fp+jwt');
  });

  it('`session revoke` ends a device session: its assertion and refresh token stop working', async () => {
    expect((await cli(suite.env, 'client', 'create', JSON.stringify({ ...DEVICE_CLIENT, client_id: 'session-app' }))).code).toBe(0);
    registration ??= await spawnApp('registration', suite.env);
    const token = await spawnApp('token', { ...suite.env, ISSUER: registration.url }, {});
    try {
      const device = await FirstPartyClient.create({
        issuer: registration.url,
        clientId: 'session-app',
        // The registration app does not serve metadata: route /token and discovery to the token process.
        fetch: (input, init) => fetch(String(input).replace(registration!.url, token.url).replace(`${token.url}/register`, `${registration!.url}/register`), init),
      });
      const reg = await device.register();
      await device.requestToken();
      const revoked = await cli(suite.env, 'session', 'revoke', reg.auth_session);
      expect(revoked.code).toBe(0);
      expect(revoked.output).toContain('session revoked');
      await expect(device.refresh()).rejects.toMatchObject({ error: 'invalid_grant' });
      await expect(device.requestToken()).rejects.toMatchObject({ status: 401, error: 'invalid_client' });
      const unknown = await cli(suite.env, 'session', 'revoke', 'no-such-session-aaaaaaaaaaaaaaaaaaaaaaaaa');
      expect(unknown.code).toBe(1);
    } finally {
      await token.stop();
    }
  });

  it('`keys rotate` prints the new kid and `keys list` shows it pending next to the active key', async () => {
    const before = await cli(suite.env, 'keys', 'list');
    expect(before.code).toBe(0);
    const active = before.output.split('\n').filter((l) => /\tactive\t/.test(l));
    expect(active).toHaveLength(1);
    const rotated = await cli(suite.env, 'keys', 'rotate');
    expect(rotated.code).toBe(0);
    const kid = /new key (\S+) is published now/.exec(rotated.output)?.[1];
    expect(kid).toEqual(expect.any(String));
    const after = await cli(suite.env, 'keys', 'list');
    expect(after.code).toBe(0);
    expect(after.output).toMatch(new RegExp(`^${kid!.replace(/[-/\\^$*+?.()|[\]{}]/g, '\\$&')}\\tES256\\tpending\\t`, 'm'));
    expect(after.output).toContain(active[0]!.split('\t')[0]);
    // A second rotation while one is pending does not stack another key.
    const again = await cli(suite.env, 'keys', 'rotate');
    expect(again.output).toContain(`a rotation is already pending: ${kid}`);
  });
});
