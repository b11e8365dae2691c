import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { FirstPartyClient } from '@fpa/client-sdk';
import { ClientRegistry } from '@fpa/clients';
import { createDpopProof, generateClientKeyPair } from '@fpa/crypto';
import { KeyManager } from '@fpa/keys';
import { AuditService } from '@fpa/platform';
import { OAuthError, toOAuthError } from '@fpa/oauth-core';
import { DeviceSessionRepository } from '@fpa/session';
import { ChallengeClient, DEVICE_CLIENT } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { asNonce, ASSERTION_TYPE, expectOAuthError, type FormResponse, rawPost, registeredDevice } from '../support/http';
import { captureLogs, type LogCapture } from '../support/log-capture';

/**
 * Issue 8, item 1: no value a store cannot hold reaches it. A NUL byte (or a lone surrogate,
 * invalid UTF-8, an over-long value) in a form field, a JSON member, a Basic credential or a JWT
 * claim used as a key is refused at the boundary that read it — never a 500, never an error log
 * line, never a row — and persistence refuses anything that still gets through.
 */

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const b64u = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
/** An unsigned-looking ES256 JWT: only its claims matter, it is refused before any signature check. */
const fakeJwt = (payload: Record<string, unknown>): string => `${b64u({ alg: 'ES256', typ: 'JWT' })}.${b64u(payload)}.AAAA`;
const CHALLENGE_APP = { ...DEVICE_CLIENT, client_id: 'challenge-app', grant_types: ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code'] };
const TABLES = ['device_sessions', 'users', 'user_authentications', 'user_credentials', 'authorization_codes', 'refresh_tokens', 'clients', 'auth_attempts'];

describe('input no store can hold (standalone, PostgreSQL + Redis)', () => {
  let suite: RunningApp;
  let logs: LogCapture;
  let device: FirstPartyClient;

  const rows = async (): Promise<Record<string, number>> => {
    const [r] = await suite.env.db.query<Record<string, string>>(`SELECT ${TABLES.map((t) => `(SELECT count(*) FROM ${t}) AS ${t}`).join(', ')}`);
    return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v)]));
  };
  const post = (path: string, body: string | Buffer, headers: Record<string, string> = FORM): Promise<FormResponse> => rawPost(`${suite.issuer}${path}`, body, headers);
  const basic = (id: string, secret = 's'): string => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${secret}`).toString('base64')}`;

  beforeAll(async () => {
    suite = await startStandalone('inputrefusals', { LOG_LEVEL: 'warn' });
    await suite.createClient(DEVICE_CLIENT);
    await suite.createClient(CHALLENGE_APP);
    logs = captureLogs();
    device = await registeredDevice(suite.issuer, DEVICE_CLIENT.client_id);
  });
  afterAll(async () => {
    logs?.restore();
    await suite?.close();
  });
  beforeEach(() => logs.clear());

  /** Refused with exactly this answer, nothing stored, nothing logged at error — and caught before the store (no store-level warn). */
  async function expectRefusedAtBoundary(send: () => Promise<FormResponse>, status: number, error: string): Promise<FormResponse> {
    const before = await rows();
    const res = await send();
    expectOAuthError(res, status, error);
    expect(await rows()).toEqual(before);
    expect(logs.errors()).toEqual([]);
    expect(logs.matching(/refused at the store/)).toEqual([]);
    return res;
  }

  describe('at the HTTP boundary: form fields and JSON members', () => {
    it.each([
      ['NUL in client_id at /introspect', '/introspect', 'token=x&client_id=%00'],
      ['NUL in client_id at /revoke', '/revoke', 'token=x&client_id=%00'],
      ['NUL in client_id at /register', '/register', 'client_id=%00&public_key=x'],
      ['NUL in client_id at /token (client_credentials)', '/token', 'grant_type=client_credentials&client_id=%00'],
      ['NUL in client_id at /token (fp_register)', '/token', 'grant_type=fp_register&client_id=native%00app&public_key=x'],
      ['NUL in refresh_token at /token', '/token', 'grant_type=refresh_token&refresh_token=%00&client_id=native-app'],
      ['NUL in code at /token (authorization_code)', '/token', 'grant_type=authorization_code&code=x%00&code_verifier=v&client_id=native-app'],
      ['a 16,385-character client_id at /token', '/token', `grant_type=client_credentials&client_id=${'a'.repeat(16_385)}`],
      ['NUL in a parameter name at /token', '/token', 'grant_type=client_credentials&client%00id=native-app'],
      ['NUL in client_id at /authorize-challenge (form)', '/authorize-challenge', 'client_id=%00&response_type=code'],
    ])('%s is invalid_request', async (_, path, body) => {
      const res = await expectRefusedAtBoundary(() => post(path, body), 400, 'invalid_request');
      expect(res.body.error_description).toMatch(/parameter|malformed/);
    });

    it('a C1 control in a value that is only echoed (state) still refuses the registration: nothing is stored', async () => {
      const key = encodeURIComponent(JSON.stringify((await generateClientKeyPair()).publicJwk));
      await expectRefusedAtBoundary(() => post('/register', `client_id=${DEVICE_CLIENT.client_id}&public_key=${key}&state=%C2%85`), 400, 'invalid_request');
      await expectRefusedAtBoundary(() => post('/register', `client_id=${DEVICE_CLIENT.client_id}&public_key=${key}&nonce=x%00`), 400, 'invalid_request');
      expect((await post('/register', `client_id=${DEVICE_CLIENT.client_id}&public_key=${key}&state=ok`)).status).toBe(200);
    });

    it('JSON at /authorize-challenge: NUL, a lone surrogate or invalid UTF-8 anywhere in the body, and hostile nesting', async () => {
      const json = { 'content-type': 'application/json' };
      for (const body of [
        JSON.stringify({ client_id: 'a\u0000' }),
        JSON.stringify({ auth_session: 'x', credential: { response: { transports: ['\ud800'] } } }),
        JSON.stringify({ credential: { ['k\u0000']: 1 } }),
        // Bytes that are not UTF-8 (the parser leaves U+FFFD).
        Buffer.concat([Buffer.from('{"client_id":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
        `{"credential":${'['.repeat(5000)}${']'.repeat(5000)}}`,
      ]) {
        await expectRefusedAtBoundary(() => post('/authorize-challenge', body, json), 400, 'invalid_request');
      }
    });

    it('a Basic credential whose id holds NUL or invalid UTF-8 is 401 invalid_client with WWW-Authenticate', async () => {
      for (const path of ['/introspect', '/revoke', '/token']) {
        for (const authorization of [basic('\u0000'), basic('rs\u0000'), `Basic ${Buffer.from([0x72, 0xff, 0x3a, 0x73]).toString('base64')}`]) {
          const res = await expectRefusedAtBoundary(() => post(path, 'token=x&grant_type=client_credentials', { ...FORM, authorization }), 401, 'invalid_client');
          expect(res.headers.get('www-authenticate')).toBe('Basic realm="first-party-auth"');
        }
      }
    });
  });

  describe('JWT claims used as keys', () => {
    it.each([
      [{ iss: '\u0000', sub: '\u0000' }],
      [{ iss: DEVICE_CLIENT.client_id, sub: DEVICE_CLIENT.client_id, device_auth_session: `${'a'.repeat(43)}\u0000` }],
      [{ iss: DEVICE_CLIENT.client_id, sub: DEVICE_CLIENT.client_id, device_auth_session: 'x', jti: '\ud800' }],
      [{ iss: 123 }],
    ])('a client assertion with %j is invalid_client at /token, /introspect and /revoke', async (claims) => {
      const form = `client_assertion_type=${encodeURIComponent(ASSERTION_TYPE)}&client_assertion=${fakeJwt(claims)}`;
      await expectRefusedAtBoundary(() => post('/token', `grant_type=client_credentials&${form}`), 401, 'invalid_client');
      await expectRefusedAtBoundary(() => post('/introspect', `token=x&${form}`), 401, 'invalid_client');
      await expectRefusedAtBoundary(() => post('/revoke', `token=x&${form}`), 401, 'invalid_client');
    });

    it('a DPoP proof whose jti or nonce no store can hold is invalid_dpop_proof', async () => {
      const key = await generateClientKeyPair();
      const nonce = await asNonce(suite.issuer);
      for (const input of [{ jti: 'j\u0000' }, { jti: '\udc00' }, { nonce: `${nonce}\u0000` }]) {
        const dpop = await createDpopProof(key, { htm: 'POST', htu: `${suite.issuer}/token`, nonce, ...input });
        await expectRefusedAtBoundary(() => post('/token', 'grant_type=client_credentials', { ...FORM, dpop }), 400, 'invalid_dpop_proof');
      }
    });

    it('an access token signed by the suite but carrying a NUL jti or auth_session is invalid_token at the resource server', async () => {
      const token = await device.requestToken();
      const keys = suite.get(KeyManager);
      const now = Math.floor(Date.now() / 1000);
      for (const claims of [{ jti: 'a\u0000' }, { auth_session: '\ud800' }]) {
        const base = { iss: suite.issuer, sub: DEVICE_CLIENT.client_id, client_id: DEVICE_CLIENT.client_id, aud: `${suite.issuer}/resources`, iat: now, exp: now + 60, jti: randomUUID(), cnf: { jkt: device.dpopKey.jkt } };
        const { token: forged } = await keys.sign({ ...base, ...claims }, 'at+jwt');
        const url = `${suite.issuer}/api/me`;
        const res = await fetch(url, { headers: { authorization: `DPoP ${forged}`, dpop: await createDpopProof(device.dpopKey, { htm: 'GET', htu: url, accessToken: forged }) } });
        expect(res.status).toBe(401);
        expect(((await res.json()) as { error: string }).error).toBe('invalid_token');
      }
      expect(token.token_type).toBe('DPoP');
      expect(logs.errors()).toEqual([]);
    });
  });

  describe('a refused first request at the challenge endpoint stores no session', () => {
    it.each([
      ['an answer with no challenge in progress', { code: '123456' }],
      ['an unknown challenge_type', { challenge_type: 'nope' }],
      ['a malformed action', { action: 'x'.repeat(40) }],
    ])('%s after valid flow parameters: 400, no auth_session, no row', async (_, extra) => {
      const c = await ChallengeClient.create(suite.issuer);
      const start = { client_id: CHALLENGE_APP.client_id, response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256', login_hint: 'orphan@example.com' };
      const res = await expectRefusedAtBoundary(() => c.send({ ...start, ...extra }), 400, 'invalid_request');
      expect(res.body.auth_session).toBeUndefined();
    });
  });

  describe('the last line: persistence never sends what PostgreSQL cannot hold', () => {
    it('a TypeORM lookup (the client registry) and a plain statement (device sessions) refuse with invalid_request before the driver', async () => {
      suite.get(ClientRegistry).invalidate();
      const lookup = suite.get(ClientRegistry).find('native\u0000app');
      await expect(lookup).rejects.toBeInstanceOf(OAuthError);
      await expect(lookup).rejects.toMatchObject({ code: 'invalid_request', reason: 'store_input' });
      const before = await rows();
      const now = new Date();
      const create = suite.get(DeviceSessionRepository).create({
        authSession: randomUUID(),
        clientId: DEVICE_CLIENT.client_id,
        keyJkt: 'j',
        publicJwk: { kty: 'EC', crv: 'P-256', x: 'a\u0000', y: 'b' } as never,
        keyAlg: 'ES256',
        createdAt: now,
        expiresAt: now,
        absoluteExpiresAt: now,
        registeredIp: null,
      });
      await expect(create).rejects.toMatchObject({ code: 'invalid_request', reason: 'store_input' });
      expect(await rows()).toEqual(before);
    });

    it('an audit event quoting what PostgreSQL cannot hold is still written (replaced), and does not block its batch', async () => {
      const audit = suite.get(AuditService);
      const requestId = `audit-${randomUUID()}`;
      audit.record({ type: 'client.auth_failed', outcome: 'failure', clientId: 'x\u0000y', ip: '\ud800', requestId, details: { ['k\u0000']: ['v\udfff'] } });
      audit.record({ type: 'client.auth_failed', outcome: 'failure', clientId: 'fine', requestId: `${requestId}-2` });
      await audit.flush();
      const rows = await suite.env.db.query<{ client_id: string; ip: string; details: unknown }>('SELECT client_id, ip, details FROM audit_events WHERE request_id LIKE $1 ORDER BY request_id', [`${requestId}%`]);
      expect(rows).toEqual([
        { client_id: 'x\ufffdy', ip: '\ufffd', details: { 'k\ufffd': ['v\ufffd'] } },
        { client_id: 'fine', ip: null, details: {} },
      ]);
    });

    it('an error PostgreSQL raises for bad input (here 22P02) is a 400, not a 500', async () => {
      const failure = await suite.get(DataSource).query('SELECT $1::uuid', ['not-a-uuid']).catch((e: unknown) => e);
      expect(toOAuthError(failure)).toMatchObject({ code: 'invalid_request', status: 400, reason: 'store_input' });
      const nul = await suite.get(DataSource).query('SELECT $1::text', ['\u0000']).catch((e: unknown) => e);
      expect(nul).toMatchObject({ code: 'invalid_request', reason: 'store_input' });
    });
  });
});
