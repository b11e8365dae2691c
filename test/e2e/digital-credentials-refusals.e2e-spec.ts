import { DataSource } from 'typeorm';
import { decodeJwtUnverified } from '@fpa/crypto';
import { ChallengeClient } from '@fpa/testing';
import type { RunningApp } from '@fpa/testing/app';
import { TestSdJwtIssuer, type SdJwtIssueOptions, type TestMdocIssuer, type WalletAnswer, type WalletMisbehaviour } from '@fpa/verifier/testing';
import { APP, PLAIN, RETURN, startDcSuite, startFlow, walletHolding } from '../support/dc-suite';
import { payment } from '../support/par';

/**
 * Issue 11 "What the tests must show": every refusal answers the wallet (or the app) with the right
 * error, and nothing is stored — no user, no credential link, no code: the app's next poll finds
 * the challenge ended, not a code. The wallet is TestWallet; each refusal is one of its misbehaviours on the wire.
 */
describe('digital credentials: refusals (VP-3…VP-6, WALLET-2/3)', () => {
  let suite: RunningApp;
  let sdIssuer: TestSdJwtIssuer;
  let mdocIssuer: TestMdocIssuer;

  beforeAll(async () => {
    ({ suite, sdIssuer, mdocIssuer } = await startDcSuite('dcrefusals'));
  });
  afterAll(async () => {
    await suite?.close();
  });

  const links = async (): Promise<number> => Number(((await suite.get(DataSource).query(`SELECT count(*)::int AS n FROM credential_identities`)) as { n: number }[])[0].n);

  /** A cross-device flow: the app's client and the `openid4vp://` link its wallet follows. */
  const crossDevice = async (params: Record<string, string> = {}): Promise<{ c: ChallengeClient; link: string }> => {
    const { c, res } = await startFlow(suite, { openid4vp_flow_type: 'cross_device', ...params });
    expect(res.body).toMatchObject({ status: 'pending' });
    return { c, link: res.body.credentials_request as string };
  };

  /** The wallet's post was refused with `error`, naming `reason`; the flow ended without a code and nothing was linked. */
  const expectRefused = async (c: ChallengeClient, answer: WalletAnswer, before: number, error: string, reason: RegExp): Promise<void> => {
    expect(answer.status).toBe(400);
    expect(answer.headers.get('cache-control')).toContain('no-store');
    expect(answer.body).toMatchObject({ error });
    expect(String((answer.body as { error_description?: unknown }).error_description)).toMatch(reason);
    const poll = await c.send({});
    expect(poll.status).toBe(403);
    expect(poll.body).toMatchObject({ error: 'insufficient_authorization', status: 'method_required' });
    expect(await links()).toBe(before);
  };

  const now = (): number => Math.floor(Date.now() / 1000);
  const cases: [string, { claims?: Record<string, unknown>; issue?: () => Partial<SdJwtIssueOptions>; misbehave?: WalletMisbehaviour }, RegExp][] = [
    ['wrong nonce', { misbehave: 'wrong_nonce' }, /nonce/],
    ['wrong aud', { misbehave: 'wrong_aud' }, /audience/],
    ['stale iat', { misbehave: 'stale_iat' }, /iat/],
    ['future iat', { misbehave: 'future_iat' }, /iat/],
    ['missing key binding', { misbehave: 'no_key_binding' }, /key_binding_missing/],
    ['tampered disclosure', { claims: { sub: 's1', email: 'a@example.com' }, misbehave: 'tampered_disclosure' }, /disclosure_tampered/],
    ['sd_hash mismatch', { misbehave: 'wrong_sd_hash' }, /sd_hash/],
    ['expired credential', { issue: () => ({ exp: now() - 600, iat: now() - 3600 }) }, /expired/],
    ['credential that does not satisfy the DCQL query', { claims: { email: 'nosub@example.com' }, misbehave: 'ignore_dcql' }, /dcql/],
  ];

  it.each(cases)('%s: 400 to the wallet, the flow ends, nothing stored', async (_name, { claims, issue, misbehave }, reason) => {
    const before = await links();
    const wallet = await walletHolding(sdIssuer, claims ?? { sub: 's1' }, issue?.() ?? {}, mdocIssuer);
    const { c, link } = await crossDevice();
    await expectRefused(c, await wallet.followLink(link, { misbehave }), before, 'invalid_request', reason);
  });

  it('untrusted issuer', async () => {
    const before = await links();
    const { c, link } = await crossDevice();
    const rogue = await walletHolding(await TestSdJwtIssuer.create({ rootName: 'Rogue Root' }), { sub: 's1' }, {}, mdocIssuer);
    await expectRefused(c, await rogue.followLink(link), before, 'invalid_request', /untrusted_issuer/);
  });

  it('a vp_token replayed (the same response posted twice at once) is refused atomically; the first one counts', async () => {
    const wallet = await walletHolding(sdIssuer, { sub: 'replay-1' }, {}, mdocIssuer);
    const { c, link } = await crossDevice();
    // The wallet's network delivers its post twice, concurrently, byte for byte.
    let twin: Promise<Response> | undefined;
    const answer = await wallet.followLink(link, {
      fetch: (url, init) => {
        if (String(url) === `${suite.issuer}/openid4vp/response`) twin = fetch(url, init);
        return fetch(url, init);
      },
    });
    const other = await twin!;
    const otherBody = (await other.json()) as Record<string, unknown>;
    expect([answer.status, other.status].sort()).toEqual([200, 400]);
    expect(answer.status === 400 ? answer.body : otherBody).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/already answered/) });
    // …and once more afterwards (replayLastPost).
    expect((await wallet.replayLastPost()).body).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/already answered/) });
    expect((await c.send({})).status).toBe(200);
  });

  it('an encrypted response for another key is refused, and leaves the request waiting for its wallet', async () => {
    const wallet = await walletHolding(sdIssuer, { sub: 's1' }, {}, mdocIssuer);
    const { c, link } = await crossDevice();
    const answer = await wallet.followLink(link, { misbehave: 'encrypt_for_other_key' });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/decrypt/) });
    expect((await c.send({})).body).toMatchObject({ status: 'pending' });
  });

  it('a poll with another DPoP key is invalid_session (FIPA-26)', async () => {
    const { c } = await crossDevice();
    const intruder = await ChallengeClient.create(suite.issuer);
    expect((await intruder.send({ auth_session: c.authSession! })).body).toMatchObject({ error: 'invalid_session' });
  });

  it('a response_code works only for its own session, and once', async () => {
    const sameDevice = async (): Promise<{ c: ChallengeClient; code: string }> => {
      const wallet = await walletHolding(sdIssuer, { sub: `sd-${Date.now()}-${Math.random()}` }, {}, mdocIssuer);
      const { c, res } = await startFlow(suite, { openid4vp_flow_type: 'same_device', openid4vp_redirect_uri: RETURN }, PLAIN.client_id);
      const answer = await wallet.followLink(res.body.credentials_request as string);
      return { c, code: (answer.body as { redirect_uri: string }).redirect_uri.split('#response_code=')[1] };
    };
    const a = await sameDevice();
    const b = await sameDevice();
    const crossed = await b.c.sendJson({ response_code: a.code });
    expect(crossed.status).toBe(403);
    expect(crossed.body).toMatchObject({ status: 'invalid_code' });
    expect((await a.c.sendJson({ response_code: a.code })).status).toBe(200);
    expect((await a.c.sendJson({ response_code: a.code })).body).toMatchObject({ error: 'invalid_request' });
    expect((await b.c.sendJson({ response_code: b.code })).status).toBe(200);
  });

  describe('payment approval (WALLET-3, VP-4): authorization_details become transaction_data', () => {
    const pay = payment('Merchant A', '99.00');

    it('the KB-JWT’s transaction_data_hashes bind the payment; the token carries the approved authorization_details', async () => {
      const wallet = await walletHolding(sdIssuer, { sub: 'payer-1' }, {}, mdocIssuer);
      const { c, link } = await crossDevice({ authorization_details: JSON.stringify([pay]) });
      const answer = await wallet.followLink(link);
      const { request } = answer;
      expect(request.transaction_data).toHaveLength(1);
      const entry = JSON.parse(Buffer.from(request.transaction_data![0], 'base64url').toString()) as Record<string, unknown>;
      expect(entry).toMatchObject({ type: 'urn:fpa:transaction-data:payment_initiation:1', credential_ids: ['credential'], instructedAmount: (pay as Record<string, unknown>).instructedAmount, creditorName: 'Merchant A' });
      expect(answer.status).toBe(200);
      const done = await c.send({});
      expect(done.status).toBe(200);
      const tokens = await c.redeem(done.body.authorization_code as string, { client_id: APP.client_id });
      expect(tokens.body.authorization_details).toEqual([pay]);
      expect(decodeJwtUnverified(tokens.body.access_token as string).payload).toMatchObject({ authorization_details: [pay], amr: expect.arrayContaining(['vc']) });
    });

    it.each<[string, WalletMisbehaviour]>([
      ['missing', 'missing_transaction_data_hashes'],
      ['wrong', 'wrong_transaction_data_hashes'],
    ])('transaction_data_hashes %s: refused, nothing stored', async (_n, misbehave) => {
      const before = await links();
      const wallet = await walletHolding(sdIssuer, { sub: 'payer-2' }, {}, mdocIssuer);
      const { c, link } = await crossDevice({ authorization_details: JSON.stringify([pay]) });
      await expectRefused(c, await wallet.followLink(link, { misbehave }), before, 'invalid_request', /transaction_data/);
    });
  });

  it('hostile bodies at the wallet endpoints are OAuth 400s, never 500', async () => {
    const post = (path: string, body: string, type = 'application/x-www-form-urlencoded'): Promise<Response> => fetch(`${suite.issuer}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
    for (const [path, body, type] of [
      ['/openid4vp/response', 'response=not.a.jwe'],
      ['/openid4vp/response', 'vp_token=%7B&state=x'],
      ['/openid4vp/response', 'state=x&state=y'],
      ['/openid4vp/response', '{"vp_token":1}', 'application/json'],
      ['/openid4vp/response', `response=${'a'.repeat(70_000)}`],
      ['/openid4vp/requests/zzz', 'wallet_nonce=x'],
      ['/openid4vp/requests/' + 'A'.repeat(32), `wallet_nonce=${'\u0001'}`],
    ] as [string, string, string?][]) {
      const res = await post(path, body, type);
      expect([400, 413]).toContain(res.status);
      expect(res.headers.get('cache-control')).toContain('no-store');
      expect(((await res.json()) as { error: string }).error).toBe('invalid_request');
    }
  });
});
