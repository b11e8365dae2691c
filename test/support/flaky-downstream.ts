import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateSigningKey, importPrivateJwk, randomToken, signJwt } from '@fpa/crypto';

export type TokenMode = 'ok' | 'garbage' | 'slow' | 'error_503' | 'huge';

/**
 * A downstream authorization server whose token endpoint misbehaves on demand (issue 10: unreachable,
 * slow, garbage), for the federating side's refusals. Its metadata advertises a native endpoint,
 * its PAR answers a request_uri, and in `ok` mode its token endpoint answers an access token (a JWT
 * signed with the key of its JWKS) for subject `flaky-user`. It counts token requests.
 */
export interface FlakyDownstream {
  readonly issuer: string;
  mode: TokenMode;
  tokenRequests: number;
  parRequests: number;
  close(): Promise<void>;
}

export async function startFlakyDownstream(): Promise<FlakyDownstream> {
  const key = await generateSigningKey('ES256');
  const privateKey = await importPrivateJwk(key.privateJwk, 'ES256');
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const state: FlakyDownstream = {
    issuer,
    mode: 'ok',
    tokenRequests: 0,
    parRequests: 0,
    // A slow answer still pending (or a kept-alive connection) must not hold the test worker open.
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const json = (res: http.ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  server.on('request', (req, res) => {
    const path = new URL(req.url ?? '/', issuer).pathname;
    req.resume();
    req.on('end', () => {
      void (async () => {
        if (path === '/.well-known/oauth-authorization-server') {
          return json(res, 200, {
            issuer,
            authorization_challenge_endpoint: `${issuer}/authorize-challenge`,
            pushed_authorization_request_endpoint: `${issuer}/par`,
            token_endpoint: `${issuer}/token`,
            jwks_uri: `${issuer}/jwks`,
          });
        }
        if (path === '/jwks') return json(res, 200, { keys: [key.publicJwk] });
        if (path === '/par') {
          state.parRequests++;
          return json(res, 201, { request_uri: `urn:ietf:params:oauth:request_uri:${randomToken(16)}`, expires_in: 60 });
        }
        if (path === '/token') {
          state.tokenRequests++;
          if (state.mode === 'garbage') {
            res.writeHead(200, { 'content-type': 'text/html' });
            return res.end('<html>not json</html>');
          }
          if (state.mode === 'error_503') return json(res, 503, { error: 'temporarily_unavailable' });
          if (state.mode === 'huge') return json(res, 200, { access_token: 'x'.repeat(2_000_000) });
          if (state.mode === 'slow') {
            await new Promise((r) => setTimeout(r, 3000).unref());
            if (!res.destroyed) json(res, 200, { error: 'too late' });
            return;
          }
          const now = Math.floor(Date.now() / 1000);
          const token = await signJwt({ iss: issuer, sub: 'flaky-user', aud: `${issuer}/resources`, iat: now, exp: now + 300, jti: randomToken(8), amr: ['otp', 'pwd'] }, { alg: 'ES256', kid: key.kid, typ: 'at+jwt' }, privateKey);
          return json(res, 200, { access_token: token, token_type: 'DPoP', expires_in: 300 });
        }
        json(res, 404, { error: 'not_found' });
      })();
    });
  });
  return state;
}
