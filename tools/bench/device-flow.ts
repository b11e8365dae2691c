import { randomUUID } from 'node:crypto';
import { createDpopProof, generateClientKeyPair, signJwt, type ClientKeyPair, type JWK } from '@fpa/crypto';

export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const FORM = 'application/x-www-form-urlencoded';

/** A registered device: its device key (signs client assertions), its DPoP key, its auth_session. */
export interface Device {
  readonly authSession: string;
  readonly deviceKey: ClientKeyPair;
  readonly dpopKey: ClientKeyPair;
}

/** One prebuilt HTTP request for autocannon: used exactly once. */
export interface PreparedRequest {
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Runs `fn` over `0..count-1`, at most `concurrency` at a time, keeping the order of results. */
export async function mapConcurrent<T>(count: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return out;
}

/** Public JWKs of fresh EC P-256 device keys, for the registration phase (one per request). */
export async function devicePublicKeys(count: number): Promise<JWK[]> {
  return mapConcurrent(count, 64, async () => (await generateClientKeyPair('ES256')).publicJwk);
}

export function registrationRequest(clientId: string, publicJwk: JWK): PreparedRequest {
  return {
    headers: { 'content-type': FORM },
    body: new URLSearchParams({ client_id: clientId, public_key: JSON.stringify(publicJwk) }).toString(),
  };
}

/** Registers `count` devices over plain HTTP (this also warms the registration process up). */
export async function registerDevices(registrationUrl: string, clientId: string, count: number): Promise<Device[]> {
  return mapConcurrent(count, 8, async () => {
    const [deviceKey, dpopKey] = await Promise.all([generateClientKeyPair('ES256'), generateClientKeyPair('ES256')]);
    const req = registrationRequest(clientId, deviceKey.publicJwk);
    const res = await fetch(`${registrationUrl}/register`, { method: 'POST', headers: req.headers, body: req.body });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`device registration failed: ${res.status} ${text}`);
    const authSession = (JSON.parse(text) as { auth_session?: unknown }).auth_session;
    if (typeof authSession !== 'string') throw new Error(`device registration returned no auth_session: ${text}`);
    return { authSession, deviceKey, dpopKey };
  });
}

/** RFC 9449 §8: a proof without a nonce is answered 400 use_dpop_nonce with a fresh DPoP-Nonce. */
export async function fetchNonce(issuer: string, key: ClientKeyPair): Promise<string> {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': FORM, dpop: await createDpopProof(key, { htm: 'POST', htu: `${issuer}/token` }) },
    body: 'grant_type=client_credentials',
  });
  const text = await res.text();
  const nonce = res.headers.get('dpop-nonce');
  if (res.status !== 400 || !text.includes('use_dpop_nonce') || !nonce) throw new Error(`expected a use_dpop_nonce challenge, got ${res.status} ${text}`);
  return nonce;
}

export interface TokenRequestBatch {
  readonly requests: PreparedRequest[];
  /** When the oldest proof was signed (its `iat`), ms. */
  readonly oldestIatMs: number;
}

/**
 * Pre-signs `count` full device grants (seed 000 (C)): a client assertion signed by the device key
 * carrying `device_auth_session`, and a DPoP proof with the server nonce — each with its own `jti`,
 * so no request is a replay. Requests go round-robin over the devices.
 */
export async function signTokenRequests(issuer: string, clientId: string, devices: readonly Device[], nonce: string, count: number): Promise<TokenRequestBatch> {
  const htu = `${issuer}/token`;
  const oldestIatMs = Math.floor(Date.now() / 1000) * 1000;
  const requests = await mapConcurrent(count, 256, async (i) => {
    const device = devices[i % devices.length];
    const now = Math.floor(Date.now() / 1000);
    const [assertion, proof] = await Promise.all([
      signJwt(
        {
          iss: clientId,
          sub: clientId,
          aud: issuer,
          iat: now,
          // Long enough for the whole phase; below ASSERTION_MAX_LIFETIME_SECONDS (300).
          exp: now + 240,
          jti: randomUUID(),
          device_auth_session: device.authSession,
        },
        { alg: device.deviceKey.alg, typ: 'client-authentication+jwt' },
        device.deviceKey.privateKey,
      ),
      createDpopProof(device.dpopKey, { htm: 'POST', htu, nonce, iat: now }),
    ]);
    return {
      headers: { 'content-type': FORM, dpop: proof },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: assertion }).toString(),
    };
  });
  return { requests, oldestIatMs };
}
