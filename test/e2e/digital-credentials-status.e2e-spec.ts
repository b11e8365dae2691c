import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { decodeJwtUnverified } from '@fpa/crypto';
import { ChallengeClient, DEVICE_CLIENT, freePort } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { startTestHttpServer, TestSdJwtIssuer, TestStatusList, TestWallet, type TestHttpServer } from '@fpa/verifier/testing';
import { expectNoStore } from '../support/http';

/**
 * Issue 11 "credential status via Token Status List when the credential carries one" and "issuer trust from
 * configured trust anchors and, for SD-JWT VC, issuer metadata JWKS" (VP-5 trust/revocation policy), through
 * the built-in verifier of the running app: the wallet (TestWallet, cross device, direct_post.jwt) presents
 * an SD-JWT VC; the app fetches the Status List Token / JWT VC Issuer Metadata from a local HTTP server.
 * Every refusal answers the wallet 400 `invalid_request` naming the check, ends the flow without a code, and
 * stores nothing (no user, no credential link).
 *
 * Embedded mode on the real stores: the test server is plain http on 127.0.0.1, which only
 * DIGITAL_CREDENTIALS_ALLOW_HTTP_LOOPBACK permits — and production mode refuses that setting.
 */
const CLIENT = { ...DEVICE_CLIENT, client_id: 'dc-status-app', grant_types: ['authorization_code', 'refresh_token'] };

describe('digital credentials: Token Status List and issuer metadata trust (issue 11, VP-5)', () => {
  let suite: RunningApp;
  let dataDir: string;
  let server: TestHttpServer;
  let outsider: TestHttpServer;
  let x5cIssuer: TestSdJwtIssuer;
  let metadataIssuer: TestSdJwtIssuer;
  let list: TestStatusList;
  let metadataList: TestStatusList;
  let closedPort: number;
  let revoked: { idx: number; uri: string };
  let suspended: { idx: number; uri: string };

  beforeAll(async () => {
    server = await startTestHttpServer();
    outsider = await startTestHttpServer();
    closedPort = await freePort();
    x5cIssuer = await TestSdJwtIssuer.create();
    metadataIssuer = await TestSdJwtIssuer.create({ rootName: 'Metadata-only Issuer (root not trusted)' });
    // The x5c issuer's list; the metadata issuer's list is signed with its kid (trusted through the same metadata).
    list = new TestStatusList(x5cIssuer, { uri: server.url('/status/x5c') });
    server.serveStatusList('/status/x5c', () => list.token({ ttl: 1 }));
    // Set before the verifier first fetches (and caches) the list.
    revoked = list.allocate();
    list.revoke(revoked.idx);
    suspended = list.allocate();
    list.suspend(suspended.idx);
    metadataList = new TestStatusList(metadataIssuer, { uri: server.url('/status/metadata'), viaMetadata: { iss: server.origin } });
    server.serveStatusList('/status/metadata', () => metadataList.token());
    // SD-JWT VC draft §5.1: the metadata of iss = the server's origin.
    server.serveJson('/.well-known/jwt-vc-issuer', () => metadataIssuer.metadataFor(server.origin));
    // An issuer that publishes valid metadata but is not in DIGITAL_CREDENTIALS_METADATA_ISSUERS.
    outsider.serveJson('/.well-known/jwt-vc-issuer', () => metadataIssuer.metadataFor(outsider.origin));

    dataDir = mkdtempSync(join(tmpdir(), 'fpa-dc-status-'));
    writeFileSync(join(dataDir, 'root.pem'), x5cIssuer.pki.rootPem);
    suite = await startStandalone('dcstatus', {
      APP_MODE: 'embedded',
      DATA_DIR: dataDir,
      CHALLENGE_METHODS: 'email_otp,digital_credential',
      DIGITAL_CREDENTIALS_TRUST_ANCHORS: join(dataDir, 'root.pem'),
      DIGITAL_CREDENTIALS_METADATA_ISSUERS: server.origin,
      DIGITAL_CREDENTIALS_ALLOW_HTTP_LOOPBACK: 'true',
    });
    await suite.createClient(CLIENT);
  });
  afterAll(async () => {
    await suite?.close();
    await server?.close();
    await outsider?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const count = async (table: 'credential_identities' | 'users'): Promise<number> => Number(((await suite.get(DataSource).query(`SELECT count(*)::int AS n FROM ${table}`)) as { n: number }[])[0].n);
  const linksOf = async (subject: string): Promise<number> => Number(((await suite.get(DataSource).query(`SELECT count(*)::int AS n FROM credential_identities WHERE subject = $1`, [subject])) as { n: number }[])[0].n);

  /** A wallet holding one PID SD-JWT VC from `issuer`, with `sub` and the given issue options. */
  const walletWith = async (issuer: TestSdJwtIssuer, sub: string, options: Partial<Parameters<TestSdJwtIssuer['issue']>[0]> = {}): Promise<TestWallet> => {
    const wallet = await TestWallet.create({ sdJwtIssuer: issuer });
    await wallet.addSdJwt(await issuer.issue({ holderJwk: wallet.sdJwtHolder.publicJwk, claims: { sub }, ...options }));
    return wallet;
  };

  /** Cross device: the app starts, the wallet follows the link and posts its presentation. */
  const present = async (wallet: TestWallet): Promise<{ c: ChallengeClient; answer: Awaited<ReturnType<TestWallet['followLink']>> }> => {
    const c = await ChallengeClient.create(suite.issuer);
    const res = await c.send({ client_id: CLIENT.client_id, response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256', challenge_type: 'digital_credential', openid4vp_flow_type: 'cross_device' });
    expect(res.body).toMatchObject({ status: 'pending', type: 'digital_credentials' });
    return { c, answer: await wallet.followLink(res.body.credentials_request as string) };
  };

  const expectLoggedIn = async (wallet: TestWallet, sub: string, issuer: string): Promise<void> => {
    const { c, answer } = await present(wallet);
    expect(answer.status).toBe(200);
    const done = await c.send({});
    expect(done.status).toBe(200);
    const tokens = await c.redeem(done.body.authorization_code as string, { client_id: CLIENT.client_id });
    expect(tokens.status).toBe(200);
    const at = decodeJwtUnverified(tokens.body.access_token as string).payload;
    expect(at).toMatchObject({ amr: expect.arrayContaining(['vc']) });
    // VP-7: the link is (issuer, sub) → the token's user.
    const rows = (await suite.get(DataSource).query(`SELECT issuer, user_id FROM credential_identities WHERE subject = $1`, [sub])) as { issuer: string; user_id: string }[];
    expect(rows).toEqual([{ issuer, user_id: at.sub }]);
  };

  /** 400 invalid_request to the wallet naming `reason`; the app's poll finds the challenge ended; nothing stored. */
  const expectRefused = async (wallet: TestWallet, sub: string, reason: RegExp): Promise<void> => {
    const [links, users] = [await count('credential_identities'), await count('users')];
    const { c, answer } = await present(wallet);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'invalid_request' });
    expect(String((answer.body as { error_description?: unknown }).error_description)).toMatch(reason);
    const poll = await c.send({});
    expect(poll.status).toBe(403);
    expectNoStore(poll);
    expect(poll.body).toMatchObject({ error: 'insufficient_authorization', status: 'method_required' });
    expect(poll.body.authorization_code).toBeUndefined();
    expect(await linksOf(sub)).toBe(0);
    expect(await count('credential_identities')).toBe(links);
    expect(await count('users')).toBe(users);
  };

  it('a credential whose status list entry is VALID logs in (the list was fetched)', async () => {
    const before = server.requests('/status/x5c');
    await expectLoggedIn(await walletWith(x5cIssuer, 'status-valid', { status: list.allocate() }), 'status-valid', x5cIssuer.pki.issuer);
    expect(server.requests('/status/x5c')).toBeGreaterThan(before);
  });

  it('a revoked credential (status INVALID) is refused, nothing stored', async () => {
    await expectRefused(await walletWith(x5cIssuer, 'status-revoked', { status: revoked }), 'status-revoked', /credential_revoked/);
  });

  it('a suspended credential (status SUSPENDED) is refused, nothing stored', async () => {
    await expectRefused(await walletWith(x5cIssuer, 'status-suspended', { status: suspended }), 'status-suspended', /credential_suspended/);
  });

  it('a credential revoked after it logged in is refused at its next presentation', async () => {
    const status = list.allocate();
    const wallet = await walletWith(x5cIssuer, 'status-later', { status });
    await expectLoggedIn(wallet, 'status-later', x5cIssuer.pki.issuer);
    list.revoke(status.idx);
    // The list is served with ttl 1 s: the verifier's cached copy must expire before it sees the change.
    await new Promise((r) => setTimeout(r, 1100));
    const { c, answer } = await present(wallet);
    expect(answer.status).toBe(400);
    expect(String((answer.body as { error_description?: unknown }).error_description)).toMatch(/credential_revoked/);
    expect((await c.send({})).status).toBe(403);
  });

  it('a status list that cannot be reached fails closed (status_unavailable), nothing stored', async () => {
    await expectRefused(await walletWith(x5cIssuer, 'status-unreachable', { status: { idx: 0, uri: `http://127.0.0.1:${closedPort}/status` } }), 'status-unreachable', /status_unavailable/);
  });

  it('a status list that answers an error fails closed too', async () => {
    server.serve('/status/broken', () => ({ status: 503, body: 'down' }));
    await expectRefused(await walletWith(x5cIssuer, 'status-503', { status: { idx: 0, uri: server.url('/status/broken') } }), 'status-503', /status_unavailable/);
  });

  it('an SD-JWT VC without x5c from a metadata-trusted issuer logs in (key from its /.well-known/jwt-vc-issuer; its status list verified the same way)', async () => {
    const before = server.requests('/.well-known/jwt-vc-issuer');
    const wallet = await walletWith(metadataIssuer, 'metadata-ok', { viaMetadata: { iss: server.origin }, status: metadataList.allocate() });
    await expectLoggedIn(wallet, 'metadata-ok', server.origin);
    expect(server.requests('/.well-known/jwt-vc-issuer')).toBeGreaterThan(before);
    expect(server.requests('/status/metadata')).toBeGreaterThan(0);
  });

  it('a revoked credential of a metadata-trusted issuer is refused', async () => {
    // A list of its own (the first one is cached by the verifier for up to 300 s).
    const second = new TestStatusList(metadataIssuer, { uri: server.url('/status/metadata-2'), viaMetadata: { iss: server.origin } });
    second.revoke(second.allocate().idx);
    server.serveStatusList('/status/metadata-2', () => second.token());
    await expectRefused(await walletWith(metadataIssuer, 'metadata-revoked', { viaMetadata: { iss: server.origin }, status: { idx: 0, uri: second.uri } }), 'metadata-revoked', /credential_revoked/);
  });

  it('an SD-JWT VC without x5c from an issuer not in DIGITAL_CREDENTIALS_METADATA_ISSUERS is refused, and its metadata is never fetched', async () => {
    const wallet = await walletWith(metadataIssuer, 'metadata-outsider', { viaMetadata: { iss: outsider.origin } });
    await expectRefused(wallet, 'metadata-outsider', /untrusted_issuer/);
    expect(outsider.requests('/.well-known/jwt-vc-issuer')).toBe(0);
  });
});
