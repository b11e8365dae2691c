import { request as httpRequest } from 'node:http';
import { FirstPartyClient } from '@fpa/client-sdk';
import { createDpopProof, generateClientKeyPair, type ClientKeyPair } from '@fpa/crypto';
import { postForm, type FormResponse } from '@fpa/testing';

export { postForm, type FormResponse };

export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** A registered device with its own keys: the starting point of most token-endpoint tests. */
export async function registeredDevice(issuer: string, clientId: string): Promise<FirstPartyClient> {
  const client = await FirstPartyClient.create({ issuer, clientId });
  await client.register();
  return client;
}

/** Fetches a current AS nonce by sending a nonce-less proof (RFC 9449 §8). */
export async function asNonce(issuer: string, key?: ClientKeyPair): Promise<string> {
  const k = key ?? (await generateClientKeyPair());
  const res = await postForm(`${issuer}/token`, { grant_type: 'client_credentials' }, { dpop: await createDpopProof(k, { htm: 'POST', htu: `${issuer}/token` }) });
  const nonce = res.headers.get('dpop-nonce');
  if (res.body.error !== 'use_dpop_nonce' || !nonce) throw new Error(`expected a nonce challenge, got ${res.status} ${res.text}`);
  return nonce;
}

/** The client-credentials form for a device, with a fresh assertion (overridable claims). */
export async function clientCredentialsForm(device: FirstPartyClient, claims: Record<string, unknown> = {}, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  return {
    grant_type: 'client_credentials',
    client_assertion_type: ASSERTION_TYPE,
    client_assertion: await device.clientAssertion(claims),
    ...extra,
  };
}

export function expectNoStore(res: { headers: Headers }): void {
  expect(res.headers.get('cache-control')).toBe('no-store');
}

/** A raw POST: lets a test send repeated parameters, odd content types or the same header twice (DPOP-4). */
export function rawPost(url: string, body: string | Buffer, headers: Record<string, string | string[]>): Promise<FormResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: Record<string, unknown> = {};
        try {
          parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        } catch {
          /* asserted through text */
        }
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (Array.isArray(v)) v.forEach((x) => h.append(k, x));
          else if (v !== undefined) h.set(k, String(v));
        }
        resolve({ status: res.statusCode ?? 0, headers: h, body: parsed, text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** RFC 6749 §5.2 error shape and CONTRACT §2: status, code, no-store, JSON, no token, no stack or SQL. */
export function expectOAuthError(res: FormResponse, status: number, error: string): void {
  expect({ status: res.status, error: res.body.error }).toEqual({ status, error });
  expectNoStore(res);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  // FIPA-17: challenge-endpoint errors may also carry the auth_session the client is to continue with.
  for (const k of Object.keys(res.body)) expect(['error', 'error_description', 'auth_session']).toContain(k);
  if (res.body.error_description !== undefined) {
    expect(res.body.error_description).toMatch(/^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/);
  }
  expect(res.body).not.toHaveProperty('access_token');
  expect(res.text).not.toMatch(/\bat .+\.(ts|js):\d+|SELECT |INSERT |QueryFailedError/);
}
