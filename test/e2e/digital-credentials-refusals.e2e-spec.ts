import { generateKeyPairSync } from 'node:crypto';
import { DataSource } from 'typeorm';
import { decodeJwtUnverified, type JWK } from '@fpa/crypto';
import { ChallengeClient, type FormResponse } from '@fpa/testing';
import type { RunningApp } from '@fpa/testing/app';
import { TestSdJwtIssuer } from '@fpa/verifier/testing';
import { APP, PLAIN, RETURN, startDcSuite, startFlow } from '../support/dc-suite';
import { expectNoStore } from '../support/http';
import { MiniWallet, type RequestObject } from '../support/mini-wallet';
import { payment } from '../support/par';

/**
 * Issue 11 "What the tests must show": every refusal answers the wallet (or the app) with the right
 * error, and nothing is stored — no user, no credential link, no code: the app's next poll finds
 * the challenge ended, not a code.
 */
describe('digital credentials: refusals (VP-3…VP-6, WALLET-2/3)', () => {
  let suite: RunningApp;
  let sdIssuer: TestSdJwtIssuer;

  beforeAll(async () => {
    ({ suite, sdIssuer } = await startDcSuite('dcrefusals'));
  });
  afterAll(async () => {
    await suite?.close();
  });

  const links = async (): Promise<number> => Number(((await suite.get(DataSource).query(`SELECT count(*)::int AS n FROM credential_identities`)) as { n: number }[])[0].n);

  const crossDevice = async (params: Record<string, string> = {}): Promise<{ c: ChallengeClient; wallet: MiniWallet; request: RequestObject }> => {
    const wallet = new MiniWallet(sdIssuer);
    const { c, res } = await startFlow(suite, { openid4vp_flow_type: 'cross_device', ...params });
    expect(res.body).toMatchObject({ status: 'pending' });
    const { request } = await wallet.fetchRequest(res.body.credentials_request as string);
    return { c, wallet, request };
  };

  /** The wallet's post was refused with `error`, naming `reason`; the flow ended without a code and nothing was linked. */
  const expectRefused = async (c: ChallengeClient, posted: FormResponse, before: number, error: string, reason: RegExp): Promise<void> => {
    expect(posted.status).toBe(400);
    expectNoStore(posted);
    expect(posted.body).toMatchObject({ error });
    expect(String(posted.body.error_description)).toMatch(reason);
    const poll = await c.send({});
    expect(poll.status).toBe(403);
    expect(poll.body).toMatchObject({ error: 'insufficient_authorization', status: 'method_required' });
    expect(await links()).toBe(before);
  };

  const cases: [string, (w: MiniWallet, r: RequestObject) => Promise<string>, RegExp][] = [
    ['wrong nonce', async (w, r) => w.present(await w.sdJwt({ sub: 's1' }), r, { nonce: 'another-nonce-aaaaaaaaaaaaaaaa' }), /nonce/],
    ['wrong aud', async (w, r) => w.present(await w.sdJwt({ sub: 's1' }), r, { aud: 'x509_san_dns:evil.example' }), /audience/],
    ['stale iat', async (w, r) => w.present(await w.sdJwt({ sub: 's1' }), r, { iat: Math.floor(Date.now() / 1000) - 3600 }), /iat/],
    ['future iat', async (w, r) => w.present(await w.sdJwt({ sub: 's1' }), r, { iat: Math.floor(Date.now() / 1000) + 3600 }), /iat/],
    ['missing key binding', async (w, r) => w.present(await w.sdJwt({ sub: 's1' }), r, { omitKeyBinding: true }), /key_binding_missing/],
    [
      'tampered disclosure',
      async (w, r) => w.present(await w.sdJwt({ sub: 's1', email: 'a@example.com' }), r, { tamperDisclosures: (d) => d.map((x, i) => (i === 0 ? Buffer.from(JSON.stringify([Buffer.from(x, 'base64url').toString().slice(2, 10), 'sub', 'victim'])).toString('base64url') : x)) }),
      /disclosure_tampered/,
    ],
    ['sd_hash mismatch', async (w, r) => w.present(await w.sdJwt({ sub: 's1' }), r, { sdHash: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }), /sd_hash/],
    ['expired credential', async (w, r) => w.present(await w.sdJwt({ sub: 's1' }, { exp: Math.floor(Date.now() / 1000) - 600, iat: Math.floor(Date.now() / 1000) - 3600 }), r), /expired/],
    ['credential that does not satisfy the DCQL query', async (w, r) => w.present(await w.sdJwt({ email: 'nosub@example.com' }), r), /dcql/],
  ];

  it.each(cases)('%s: 400 to the wallet, the flow ends, nothing stored', async (_name, presentation, reason) => {
    const before = await links();
    const { c, wallet, request } = await crossDevice();
    const posted = await wallet.respond(request, { credential: [await presentation(wallet, request)] });
    await expectRefused(c, posted, before, 'invalid_request', reason);
  });

  it('untrusted issuer', async () => {
    const before = await links();
    const { c, request } = await crossDevice();
    const rogue = new MiniWallet(await TestSdJwtIssuer.create({ rootName: 'Rogue Root' }));
    const posted = await rogue.respond(request, { credential: [await rogue.present(await rogue.sdJwt({ sub: 's1' }), request)] });
    await expectRefused(c, posted, before, 'invalid_request', /untrusted_issuer/);
  });

  it('a vp_token replayed (the same response posted twice) is refused atomically; the first one counts', async () => {
    const { c, wallet, request } = await crossDevice();
    const vpToken = { credential: [await wallet.present(await wallet.sdJwt({ sub: 'replay-1' }), request)] };
    const [a, b] = await Promise.all([wallet.respond(request, vpToken), wallet.respond(request, vpToken)]);
    expect([a.status, b.status].sort()).toEqual([200, 400]);
    expect((a.status === 400 ? a : b).body).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/already answered/) });
    expect((await c.send({})).status).toBe(200);
  });

  it('an encrypted response for another key is refused, and leaves the request waiting for its wallet', async () => {
    const { c, wallet, request } = await crossDevice();
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }) as JWK;
    const posted = await wallet.respond(request, { credential: [await wallet.present(await wallet.sdJwt({ sub: 's1' }), request)] }, { key: other });
    expect(posted.status).toBe(400);
    expect(posted.body).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/decrypt/) });
    expect((await c.send({})).body).toMatchObject({ status: 'pending' });
  });

  it('a poll with another DPoP key is invalid_session (FIPA-26)', async () => {
    const { c } = await crossDevice();
    const intruder = await ChallengeClient.create(suite.issuer);
    expect((await intruder.send({ auth_session: c.authSession! })).body).toMatchObject({ error: 'invalid_session' });
  });

  it('a response_code works only for its own session, and once', async () => {
    const sameDevice = async (): Promise<{ c: ChallengeClient; code: string }> => {
      const wallet = new MiniWallet(sdIssuer);
      const { c, res } = await startFlow(suite, { openid4vp_flow_type: 'same_device', openid4vp_redirect_uri: RETURN }, PLAIN.client_id);
      const { request } = await wallet.fetchRequest(res.body.credentials_request as string);
      const posted = await wallet.respond(request, { credential: [await wallet.present(await wallet.sdJwt({ sub: `sd-${Date.now()}-${Math.random()}` }), request)] });
      return { c, code: (posted.body.redirect_uri as string).split('#response_code=')[1] };
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
      const { c, wallet, request } = await crossDevice({ authorization_details: JSON.stringify([pay]) });
      expect(request.transaction_data).toHaveLength(1);
      const entry = JSON.parse(Buffer.from(request.transaction_data![0], 'base64url').toString()) as Record<string, unknown>;
      expect(entry).toMatchObject({ type: 'urn:fpa:transaction-data:payment_initiation:1', credential_ids: ['credential'], instructedAmount: (pay as Record<string, unknown>).instructedAmount, creditorName: 'Merchant A' });
      expect((await wallet.respond(request, { credential: [await wallet.present(await wallet.sdJwt({ sub: 'payer-1' }), request)] })).status).toBe(200);
      const done = await c.send({});
      expect(done.status).toBe(200);
      const tokens = await c.redeem(done.body.authorization_code as string, { client_id: APP.client_id });
      expect(tokens.body.authorization_details).toEqual([pay]);
      expect(decodeJwtUnverified(tokens.body.access_token as string).payload).toMatchObject({ authorization_details: [pay], amr: expect.arrayContaining(['vc']) });
    });

    it.each([
      ['missing', { transactionData: undefined }],
      ['wrong', { transactionDataHashes: ['AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'] }],
    ])('transaction_data_hashes %s: refused, nothing stored', async (_n, options) => {
      const before = await links();
      const { c, wallet, request } = await crossDevice({ authorization_details: JSON.stringify([pay]) });
      const posted = await wallet.respond(request, { credential: [await wallet.present(await wallet.sdJwt({ sub: 'payer-2' }), request, options)] });
      await expectRefused(c, posted, before, 'invalid_request', /transaction_data/);
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
