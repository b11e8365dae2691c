import { randomBytes, randomUUID, webcrypto } from 'node:crypto';
import { createDpopProof, generateClientKeyPair, signJwt, type ClientKeyPair } from '@fpa/crypto';
import { ASSERTION_TYPE, fetchNonce, mapConcurrent, signTokenRequests, type Device, type PreparedRequest } from './device-flow';
import type { OidcServerConfig } from './compare-oidc-server';

/**
 * The requests of `npm run bench:compare` (issue 13), pre-signed before each round with the nonce
 * each server hands out just before: ours through the existing device-grant signer, theirs for
 * node-oidc-provider's clients (one private_key_jwt client per simulated device, each with its own
 * device key and a separate DPoP key, as our devices have).
 */

const FORM = 'application/x-www-form-urlencoded';
/** The access-token audience of both servers (ours: its default `<issuer>/resources`). */
export const resourceOf = (issuer: string): string => `${issuer}/resources`;
export const OP_SCOPE = 'api';

/** Our side: the devices registered for one client, and the signer of the existing benchmark. */
export async function signOurRequests(issuer: string, clientId: string, devices: readonly Device[], count: number): Promise<{ requests: PreparedRequest[]; nonceFetchedAt: number; oldestIatMs: number }> {
  const nonce = await fetchNonce(issuer, devices[0].dpopKey);
  const nonceFetchedAt = Date.now();
  const batch = await signTokenRequests(issuer, clientId, devices, nonce, count);
  return { requests: batch.requests, nonceFetchedAt, oldestIatMs: batch.oldestIatMs };
}

/** node-oidc-provider's side: its clients' keys, and their DPoP keys. */
export interface OpClient {
  readonly clientId: string;
  readonly key: ClientKeyPair;
  readonly dpopKey: ClientKeyPair;
}

export async function makeOpClients(count: number): Promise<OpClient[]> {
  return mapConcurrent(count, 16, async (i) => {
    const [key, dpopKey] = await Promise.all([generateClientKeyPair('ES256'), generateClientKeyPair('ES256')]);
    return { clientId: `bench-op-${i}`, key, dpopKey };
  });
}

/** The configuration file of compare-oidc-server (a fresh ES256 signing key, nonce secret and control secret). */
export async function opServerConfig(clients: readonly OpClient[], resource: string, ttl: { accessTokenTtlSeconds: number; refreshTokenTtlSeconds: number }): Promise<OidcServerConfig> {
  const signing = await generateClientKeyPair('ES256');
  const signingKey = (await webcrypto.subtle.exportKey('jwk', signing.privateKey)) as Record<string, unknown>;
  return {
    clients: clients.map((c) => ({ client_id: c.clientId, jwks: { keys: [{ ...c.key.publicJwk, alg: 'ES256', use: 'sig' }] } })),
    signingKey: { ...signingKey, kid: signing.jkt, alg: 'ES256', use: 'sig' },
    nonceSecret: randomBytes(32).toString('base64url'),
    resource,
    scope: OP_SCOPE,
    ...ttl,
    controlSecret: randomBytes(24).toString('base64url'),
  };
}

/** RFC 7523 client assertion for node-oidc-provider: `aud` = its issuer, a unique `jti`. */
function opAssertion(issuer: string, client: OpClient, now: number): Promise<string> {
  return signJwt({ iss: client.clientId, sub: client.clientId, aud: issuer, iat: now, exp: now + 240, jti: randomUUID() }, { alg: 'ES256' }, client.key.privateKey);
}

/** RFC 9449 §8 at node-oidc-provider: a proof without a nonce (and a valid client) is answered 400 use_dpop_nonce + DPoP-Nonce. */
export async function fetchOpNonce(issuer: string, client: OpClient): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': FORM, dpop: await createDpopProof(client.dpopKey, { htm: 'POST', htu: `${issuer}/token`, iat: now }) },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: OP_SCOPE, client_assertion_type: ASSERTION_TYPE, client_assertion: await opAssertion(issuer, client, now) }).toString(),
  });
  const text = await res.text();
  const nonce = res.headers.get('dpop-nonce');
  if (res.status !== 400 || !text.includes('use_dpop_nonce') || !nonce) throw new Error(`node-oidc-provider: expected a use_dpop_nonce challenge, got ${res.status} ${text}`);
  return nonce;
}

/**
 * Pre-signs `count` token requests to node-oidc-provider, round-robin over its clients: each with
 * its own client assertion and DPoP proof (unique `jti`s, the server nonce). `refreshTokens`
 * (the i-th request's refresh token and its client) makes them refresh_token grants; else they
 * are client_credentials grants with `scope=api`.
 */
export async function signOpRequests(
  issuer: string,
  clients: readonly OpClient[],
  count: number,
  refreshTokens?: readonly { client_id: string; refresh_token: string }[],
): Promise<{ requests: PreparedRequest[]; nonceFetchedAt: number }> {
  const byId = new Map(clients.map((c) => [c.clientId, c]));
  const nonce = await fetchOpNonce(issuer, clients[0]);
  const nonceFetchedAt = Date.now();
  const htu = `${issuer}/token`;
  if (refreshTokens && refreshTokens.length < count) throw new Error(`${count} refresh requests need as many refresh tokens, got ${refreshTokens.length}`);
  const requests = await mapConcurrent(count, 256, async (i) => {
    const rt = refreshTokens?.[i];
    const client = rt ? byId.get(rt.client_id) : clients[i % clients.length];
    if (!client) throw new Error(`refresh token of an unknown client ${rt?.client_id}`);
    const now = Math.floor(Date.now() / 1000);
    const [assertion, proof] = await Promise.all([opAssertion(issuer, client, now), createDpopProof(client.dpopKey, { htm: 'POST', htu, nonce, iat: now })]);
    const grant: Record<string, string> = rt ? { grant_type: 'refresh_token', refresh_token: rt.refresh_token } : { grant_type: 'client_credentials', scope: OP_SCOPE };
    return { headers: { 'content-type': FORM, dpop: proof }, body: new URLSearchParams({ ...grant, client_assertion_type: ASSERTION_TYPE, client_assertion: assertion }).toString() };
  });
  return { requests, nonceFetchedAt };
}

/** Refresh tokens minted by compare-oidc-server's seeding endpoint (each its own grant, as a login leaves it). */
export async function seedOpRefreshTokens(issuer: string, controlSecret: string, count: number): Promise<{ client_id: string; refresh_token: string }[]> {
  const res = await fetch(`${issuer}/__bench/refresh-tokens`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-bench-control': controlSecret }, body: JSON.stringify({ count }) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`seeding ${count} refresh tokens failed: ${res.status} ${text.slice(0, 2000)}`);
  return (JSON.parse(text) as { tokens: { client_id: string; refresh_token: string }[] }).tokens;
}

/** A JWT access token (three base64url parts) with `typ: at+jwt`, DPoP-bound — what both servers must answer. */
export function isJwtDpopAccessToken(b: Record<string, unknown>): boolean {
  if (typeof b.access_token !== 'string' || b.token_type !== 'DPoP') return false;
  const parts = b.access_token.split('.');
  if (parts.length !== 3) return false;
  try {
    const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as { typ?: string };
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { cnf?: { jkt?: string } };
    return header.typ === 'at+jwt' && typeof payload.cnf?.jkt === 'string';
  } catch {
    return false;
  }
}

/** The body each comparison expects from both servers: a DPoP-bound JWT access token, and a refresh token exactly when asked for. */
export const expectTokenBody =
  (withRefreshToken: boolean) =>
  (b: Record<string, unknown>): boolean =>
    isJwtDpopAccessToken(b) && (typeof b.refresh_token === 'string') === withRefreshToken;
