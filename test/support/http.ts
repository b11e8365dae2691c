import { FirstPartyClient } from '@fpa/client-sdk';
import { createDpopProof, generateClientKeyPair, type ClientKeyPair } from '@fpa/crypto';

export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface FormResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
  readonly text: string;
}

/** POST a form, return status, headers and the parsed JSON body. */
export async function postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<FormResponse> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    /* non-JSON bodies are asserted through `text` */
  }
  return { status: res.status, headers: res.headers, body, text };
}

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
