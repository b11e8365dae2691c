// A real other OAuth server for the federation tests (issue 10, FED-9): panva's oidc-provider with
// PAR but no native/challenge endpoint, in its own process (it is ESM-only). Prints `{"port": …}`
// once listening; `GET /__requests` answers how many requests reached each path (so a test can
// assert that no PAR was sent).
import http from 'node:http';
import Provider from 'oidc-provider';

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [{ client_id: 'as1', client_secret: 'not-used-here-0123456789abcdef', redirect_uris: ['http://127.0.0.1/cb'], grant_types: ['authorization_code'], response_types: ['code'] }],
  features: { pushedAuthorizationRequests: { enabled: true } },
});
const seen = {};
const callback = provider.callback();
server.on('request', (req, res) => {
  const path = new URL(req.url, issuer).pathname;
  if (path === '/__requests') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(seen));
    return;
  }
  seen[path] = (seen[path] ?? 0) + 1;
  callback(req, res);
});
process.stdout.write(`${JSON.stringify({ port })}\n`);
