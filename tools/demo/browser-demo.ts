import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwtUnverified, randomToken, s256CodeChallenge } from '@fpa/crypto';

/**
 * `npm run demo -- --browser`: the browser path, as a web or desktop app would take it (RFC 8252
 * §7.3: a loopback redirect on a port the OS picks). It pushes the authorization request (PAR, with
 * a RAR payment the consent screen shows) when the server advertises PAR, else sends it in the URL;
 * prints the sign-in link; waits for the browser to come back; checks `state` and `iss` (RFC 9207);
 * redeems the code with the PKCE verifier. On the embedded default it also prints each one-time
 * code the outbox receives, since no e-mail leaves the machine.
 *   ISSUER       the suite (default http://localhost:3000)
 *   CLIENT_ID    a client with the redirect URI http://127.0.0.1/callback (default demo-web)
 *   OUTBOX_PATH  where the embedded default writes codes (default <DATA_DIR or .data>/outbox.jsonl)
 */

export interface BrowserDemoOptions {
  readonly issuer: string;
  readonly clientId: string;
  /** Called with each new one-time code in the embedded outbox (the demo prints them). */
  readonly watchOutbox?: (onCode: (to: string, code: string) => void) => () => void;
  readonly timeoutMs?: number;
  readonly log?: (line: string) => void;
}

const PAYMENT = {
  type: 'payment_initiation',
  actions: ['initiate'],
  locations: ['https://bank.example.com/payments'],
  instructedAmount: { currency: 'EUR', amount: '12.50' },
  creditorName: 'Corner Café',
  creditorAccount: { iban: 'DE02100100109307118603' },
};

export async function browserDemo(o: BrowserDemoOptions): Promise<void> {
  const log = o.log ?? ((l: string) => console.log(l));
  const md = (await (await fetch(`${o.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
  const authorizationEndpoint = md.authorization_endpoint as string | undefined;
  if (!authorizationEndpoint) throw new Error(`${o.issuer} advertises no authorization_endpoint`);
  const detailTypes = (md.authorization_details_types_supported as string[] | undefined) ?? [];

  const verifier = randomToken(32);
  const state = randomToken(16);
  const callback = await listenForCallback();
  const redirectUri = `http://127.0.0.1:${callback.port}/callback`;
  const params: Record<string, string> = {
    client_id: o.clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: 'openid demo.read',
    state,
    code_challenge: s256CodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...(detailTypes.includes('payment_initiation') ? { authorization_details: JSON.stringify([PAYMENT]) } : {}),
  };
  log(`1. Listening for the redirect on ${redirectUri} (RFC 8252 §7.3: any port of a registered loopback URI)`);

  let link: string;
  const par = md.pushed_authorization_request_endpoint as string | undefined;
  if (par) {
    const res = await fetch(par, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params) });
    const body = (await res.json()) as { request_uri?: string; expires_in?: number; error?: string; error_description?: string };
    if (res.status !== 201 || !body.request_uri) throw new Error(`PAR refused: ${body.error ?? res.status} ${body.error_description ?? ''}`);
    log(`2. Pushed the request (PAR, RFC 9126) → ${body.request_uri} (expires in ${body.expires_in} s)`);
    link = `${authorizationEndpoint}?${new URLSearchParams({ client_id: o.clientId, request_uri: body.request_uri })}`;
  } else {
    log('2. The server advertises no PAR endpoint: the request goes in the URL');
    link = `${authorizationEndpoint}?${new URLSearchParams(params)}`;
  }
  log(`3. Open this link in a browser and sign in (e-mail code; ${params.authorization_details ? 'the consent screen shows the payment' : 'then allow the app'}):\n\n   ${link}\n`);
  const stopWatching = o.watchOutbox?.((to, code) => log(`   ✉ one-time code for ${to}: ${code} (from the embedded outbox)`));

  try {
    const back = await callback.next(o.timeoutMs ?? 300_000);
    log(`4. Back in the app: ${[...back.keys()].join(', ')}`);
    if (back.get('iss') !== o.issuer) throw new Error(`iss ${back.get('iss')} is not ${o.issuer} (RFC 9207: refuse a response from another server)`);
    if (back.get('state') !== state) throw new Error('state does not match: not the response to this request');
    const error = back.get('error');
    if (error) throw new Error(`the sign-in ended with ${error}: ${back.get('error_description') ?? ''}`);
    const tokenRes = await fetch(md.token_endpoint as string, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', client_id: o.clientId, code: back.get('code') ?? '', code_verifier: verifier, redirect_uri: redirectUri }),
    });
    const tokens = (await tokenRes.json()) as Record<string, unknown>;
    if (tokenRes.status !== 200) throw new Error(`the token endpoint refused the code: ${JSON.stringify(tokens)}`);
    const claims = decodeJwtUnverified(tokens.access_token as string).payload;
    log(`5. Redeemed the code at ${String(md.token_endpoint)} (PKCE verifier, same redirect_uri):`);
    log(
      JSON.stringify({ token_type: tokens.token_type, scope: tokens.scope, authorization_details: tokens.authorization_details, access_token: { sub: claims.sub, acr: claims.acr, amr: claims.amr, client_id: claims.client_id } }, null, 2)
        .split('\n')
        .map((l) => `   ${l}`)
        .join('\n'),
    );
    log('\nDone: a browser login through the same challenge modules, back to the app with code, state and iss.');
  } finally {
    stopWatching?.();
    await callback.close();
  }
}

/** A one-shot loopback HTTP server for the redirect (the app's side). */
async function listenForCallback(): Promise<{ port: number; next(timeoutMs: number): Promise<URLSearchParams>; close(): Promise<void> }> {
  let deliver: (q: URLSearchParams) => void = () => undefined;
  const arrived = new Promise<URLSearchParams>((resolve) => (deliver = resolve));
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/callback') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end('<!doctype html><meta charset="utf-8"><title>Back in the app</title><p>Back in the demo app — you can close this tab.</p>');
    deliver(url.searchParams);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    next: (timeoutMs) =>
      Promise.race([
        arrived,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no sign-in came back within ${timeoutMs / 1000} s`)), timeoutMs).unref()),
      ]),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
