import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { EXAMPLE_DETAIL_TYPES } from '@fpa/authz-request';
import { createDpopProof, type ClientKeyPair } from '@fpa/crypto';
import type { RunningApp } from '@fpa/testing/app';
import { postForm, type FormResponse } from './http';

/**
 * What the PAR and RAR suites share: the deployment's RAR types written to an
 * AUTHORIZATION_DETAILS_FILE (production mode has none built in), the clients, requests with a DPoP
 * proof, and a count of the pushed requests the store holds.
 */

/** The embedded default's example types, as an operator would write them (README "Authorization details"). */
export function authorizationDetailsFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'fpa-rar-')), 'authorization-details.json');
  writeFileSync(file, JSON.stringify(EXAMPLE_DETAIL_TYPES, null, 2));
  return file;
}

/** A confidential web client that is not first-party (consent page), client_secret_basic. */
export const WEB = {
  client_id: 'par-web',
  name: 'Payments web app',
  type: 'confidential',
  grant_types: ['authorization_code', 'refresh_token'],
  auth_methods: ['client_secret_basic'],
  scopes: ['openid', 'payments'],
  redirect_uris: ['https://web.example.com/cb'],
  authorization_details_types: ['payment_initiation', 'account_information'],
} as const;
export const OTHER_WEB = { ...WEB, client_id: 'par-web-2', redirect_uris: ['https://other.example.com/cb'] } as const;
/** A public browser client (client_id only) that must push its requests (RFC 9126 §6). */
export const SPA = {
  client_id: 'par-spa',
  name: 'Payments SPA',
  type: 'public',
  grant_types: ['authorization_code', 'refresh_token'],
  auth_methods: ['none'],
  scopes: ['openid', 'payments'],
  redirect_uris: ['http://127.0.0.1/spa/cb'],
  authorization_details_types: ['payment_initiation'],
  require_pushed_authorization_requests: true,
} as const;
/** A first-party native app without redirect URIs: its pushed requests are consumed at /authorize-challenge. */
export const NATIVE = {
  client_id: 'par-native',
  name: 'Native app',
  type: 'public',
  first_party: true,
  grant_types: ['authorization_code', 'refresh_token'],
  auth_methods: ['none'],
  scopes: ['openid'],
  authorization_details_types: ['account_information'],
  dpop_bound_access_tokens: true,
} as const;
export const RS = { client_id: 'par-rs', type: 'confidential', permissions: ['introspect'] } as const;

export const payment = (creditorName = 'Merchant A', amount = '123.50'): Record<string, unknown> => ({
  type: 'payment_initiation',
  actions: ['initiate'],
  instructedAmount: { currency: 'EUR', amount },
  creditorName,
  creditorAccount: { iban: 'DE02120300000000202051' },
});
export const balances = { type: 'account_information', actions: ['read_balances'] };
export const accounts = { type: 'account_information', actions: ['list_accounts'] };

export const basic = (id: string, secret: string): string => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/** The clients above on `suite`; returns the confidential ones' secrets by client_id. */
export async function createParClients(suite: RunningApp): Promise<Record<string, string>> {
  const secrets: Record<string, string> = {};
  for (const c of [WEB, OTHER_WEB, SPA, NATIVE, RS]) {
    const created = await suite.createClient({ ...c });
    if (created.secret) secrets[c.client_id] = created.secret;
  }
  return secrets;
}

/**
 * POSTs `form` to `path` with a DPoP proof by `key` (one retry on use_dpop_nonce, as a client
 * does), the proof's `iat` from the app's clock.
 */
export function dpopPoster(suite: RunningApp): (path: string, form: Record<string, string>, key: ClientKeyPair, headers?: Record<string, string>) => Promise<FormResponse> {
  let nonce: string | undefined;
  return async (path, form, key, headers = {}) => {
    const url = `${suite.issuer}${path}`;
    for (let attempt = 0; ; attempt++) {
      const res = await postForm(url, form, { ...headers, dpop: await createDpopProof(key, { htm: 'POST', htu: url, nonce, iat: suite.clock.nowSeconds() }) });
      nonce = res.headers.get('dpop-nonce') ?? nonce;
      if (res.body.error === 'use_dpop_nonce' && attempt === 0) continue;
      return res;
    }
  };
}

/** How many pushed requests the app's Redis holds (RFC 9126: a refused push stores none). */
export async function pushedCount(suite: RunningApp): Promise<number> {
  const redis = new Redis(suite.env.redisUrl);
  try {
    return (await redis.keys(`${suite.env.redisPrefix}par:*`)).length;
  } finally {
    redis.disconnect();
  }
}
