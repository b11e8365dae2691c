import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDpopProof, decodeJwtUnverified, generateClientKeyPair, sha256B64u } from '@fpa/crypto';
import { ChallengeClient, type NonceSlot } from './challenge-client';
import { TestClock } from './clock';
import { keepAlivePoster, postForm } from './http';

interface Seen {
  readonly path: string;
  readonly form: Record<string, string>;
  readonly proof: Record<string, unknown> | undefined;
  readonly authorization: string | undefined;
}

/**
 * The client against a stand-in server that wants the nonce `n1` and hands out `s1`: it retries once on
 * use_dpop_nonce, keeps the auth_session, names the issuer in `htu` wherever the request goes, and
 * takes the proof's `iat` from the given clock.
 */
describe('ChallengeClient', () => {
  let server: http.Server;
  let url: string;
  const seen: Seen[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        const form = Object.fromEntries(new URLSearchParams(raw));
        const proof = typeof req.headers.dpop === 'string' ? decodeJwtUnverified(req.headers.dpop).payload : undefined;
        seen.push({ path: req.url ?? '', form, proof, authorization: req.headers.authorization });
        const reply = (status: number, body: Record<string, unknown>): void => {
          res.writeHead(status, { 'content-type': 'application/json', 'dpop-nonce': 'n1' }).end(JSON.stringify(body));
        };
        if (proof && proof.nonce !== 'n1') return reply(400, { error: 'use_dpop_nonce' });
        if (req.url === '/token') return reply(200, { access_token: 'at', token_type: 'DPoP' });
        return reply(403, { error: 'insufficient_authorization', auth_session: form.auth_session ?? 's1' });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  const agent = new http.Agent({ keepAlive: true });
  afterAll(async () => {
    agent.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => (seen.length = 0));

  it('retries once with the server nonce, then carries the auth_session; htu names the issuer, the request goes to baseUrl', async () => {
    let retries = 0;
    const c = await ChallengeClient.create('https://issuer.example', undefined, undefined, { baseUrl: url, onNonceRetry: () => retries++ });
    const first = await c.send({ client_id: 'app', response_type: 'code' });
    expect(first.status).toBe(403);
    expect(c.authSession).toBe('s1');
    expect(c.nonce).toBe('n1');
    expect(retries).toBe(1);
    expect(seen.map((s) => s.proof?.nonce)).toEqual([undefined, 'n1']);
    expect(seen[1].proof).toMatchObject({ htm: 'POST', htu: 'https://issuer.example/authorize-challenge' });

    await c.send({ code: '123456' });
    expect(seen[2].form).toEqual({ auth_session: 's1', code: '123456' });
    await c.send({ code: '1' }, { withSession: false, noProof: true });
    expect(seen[3]).toMatchObject({ form: { code: '1' }, proof: undefined });
    expect(retries).toBe(1);
  });

  it('redeems with the verifier at tokenBaseUrl; a device token travels as Authorization: DPoP with ath', async () => {
    const key = await generateClientKeyPair();
    const c = new ChallengeClient('https://issuer.example', key, 'device-token', { baseUrl: url, post: keepAlivePoster(agent, 5000) });
    c.nonce = 'n1';
    await c.send({ response_type: 'code' });
    expect(seen[0]).toMatchObject({ authorization: 'DPoP device-token', proof: { ath: sha256B64u('device-token') } });
    const tokens = await c.redeem('the-code', { client_id: 'app' });
    expect(tokens.body).toEqual({ access_token: 'at', token_type: 'DPoP' });
    expect(seen[1]).toMatchObject({ path: '/token', authorization: undefined, form: { grant_type: 'authorization_code', code: 'the-code', code_verifier: c.verifier, client_id: 'app' } });
    expect(seen[1].proof).toMatchObject({ htu: 'https://issuer.example/token', nonce: 'n1' });
  });

  it('signs with the clock it is given, sends a pre-signed proof first, and shares a nonce slot', async () => {
    const clock = new TestClock({ nowMs: 1_800_000_000_000, frozen: true });
    const nonces: NonceSlot = { value: undefined };
    const a = await ChallengeClient.create('https://issuer.example', undefined, undefined, { baseUrl: url, clock, nonces, post: postForm });
    const presigned = await createDpopProof(a.key, { htm: 'POST', htu: 'https://issuer.example/authorize-challenge', nonce: 'stale', iat: 1 });
    await a.send({ client_id: 'app' }, { proof: presigned });
    expect(seen.map((s) => [s.proof?.nonce, s.proof?.iat])).toEqual([
      ['stale', 1],
      ['n1', 1_800_000_000],
    ]);
    const b = await ChallengeClient.create('https://issuer.example', undefined, undefined, { baseUrl: url, nonces });
    expect(b.nonce).toBe('n1');
  });
});
