import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTransport } from 'nodemailer';
import { prepareRounds, runChallengeRoundTrips } from './challenge-flow';
import { extractCode, startCodeSink, type CodeSink } from './smtp-sink';

/**
 * The closed-loop driver against a stand-in server: it sends the code by real SMTP to the sink,
 * asks for a fresh nonce on the first proof it sees with a stale one, and refuses one answer.
 */
describe('challenge round-trip driver', () => {
  let sink: CodeSink;
  let server: http.Server;
  let url: string;
  const NONCE = 'fresh-nonce';
  const codes = new Map<string, { code: string; challenge: string }>();

  beforeAll(async () => {
    sink = await startCodeSink();
    const mail = createTransport(sink.url);
    server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        void (async () => {
          const form = Object.fromEntries(new URLSearchParams(raw));
          const proof = JSON.parse(Buffer.from(String(req.headers.dpop).split('.')[1], 'base64url').toString()) as { nonce?: string; htu: string };
          const reply = (status: number, body: Record<string, unknown>): void => {
            res.writeHead(status, { 'content-type': 'application/json', 'dpop-nonce': NONCE });
            res.end(JSON.stringify(body));
          };
          if (proof.htu !== `https://issuer.example${req.url}`) return reply(400, { error: 'invalid_dpop_proof' });
          if (proof.nonce !== NONCE) return reply(400, { error: 'use_dpop_nonce' });
          if (req.url === '/authorize-challenge' && form.login_hint) {
            const code = String(100000 + codes.size);
            codes.set(form.login_hint, { code, challenge: form.code_challenge });
            await mail.sendMail({ from: 'as@example.com', to: form.login_hint, subject: 'code', text: `Your sign-in code is ${code}. It expires.` });
            return reply(403, { error: 'insufficient_authorization', status: 'code_sent', auth_session: form.login_hint });
          }
          if (req.url === '/authorize-challenge') {
            const entry = codes.get(form.auth_session);
            if (!entry || entry.code !== form.code || form.auth_session.startsWith('u3.')) return reply(400, { error: 'invalid_request' });
            return reply(200, { authorization_code: `code-for-${form.auth_session}`, auth_session: form.auth_session });
          }
          const entry = codes.get(form.code.replace('code-for-', ''));
          const ok = entry && form.grant_type === 'authorization_code' && createHash('sha256').update(form.code_verifier).digest('base64url') === entry.challenge;
          return ok ? reply(200, { access_token: 'at', token_type: 'DPoP', expires_in: 60 }) : reply(400, { error: 'invalid_grant' });
        })();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await sink.close();
  });

  it('finds the code in plain and quoted-printable mail', () => {
    expect(extractCode('Subject: x\r\n\r\nYour sign-in code is 123456. It expires')).toBe('123456');
    expect(extractCode('Your sign-in code is 12=\r\n3456. It')).toBe('123456');
    expect(extractCode('no code here')).toBeUndefined();
  });

  it.each(['presigned', 'live'] as const)('runs round trips, retries a stale nonce and counts a refused answer (%s proofs)', async (signing) => {
    const { rounds } = await prepareRounds('https://issuer.example', 8, signing, signing, 'stale-nonce');
    const r = await runChallengeRoundTrips({ title: 't', challengeUrl: url, tokenUrl: url, issuer: 'https://issuer.example', clientId: 'app', rounds, concurrency: 3, stopAt: Date.now() + 20_000, sink, signing, nonce: 'stale-nonce' });
    expect(r.roundsStarted).toBe(8);
    expect(r.completed).toBe(7);
    expect([...r.unexpected]).toEqual([['answer 400', 1]]);
    expect(r.non2xx).toBe(1);
    expect(r.errors).toBe(0);
    expect(r.steps.begin.completed).toBe(7);
    expect(r.latency.p50).toBeGreaterThan(0);
    expect(r.emailsReceived).toBe(8);
    // Pre-signed proofs all carry the stale nonce (one retry per request); live ones pick up the new nonce.
    if (signing === 'presigned') expect(r.nonceRetries).toBe(8 + 8 + 7);
    else expect(r.nonceRetries).toBeLessThanOrEqual(3);
  });
});
