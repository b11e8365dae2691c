import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';

/** Headers the local proxy forwards and answers with (RFC 9110 §7.6.1 hop-by-hop rules, X-Forwarded-*, X-Request-Id). */

/** The same rule as the apps' request ids (libs/platform/src/logging.ts). */
export const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings']);

export function clientAddress(req: IncomingMessage): string {
  return (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
}

/** Hop-by-hop headers (RFC 9110 §7.6.1), including those the Connection header names. */
function hopByHop(headers: IncomingHttpHeaders): Set<string> {
  const names = new Set(HOP_BY_HOP);
  const connection = headers.connection;
  for (const v of Array.isArray(connection) ? connection : connection ? [connection] : []) {
    for (const token of v.split(',')) if (token.trim()) names.add(token.trim().toLowerCase());
  }
  return names;
}

export function forwardHeaders(inbound: IncomingHttpHeaders, requestId: string, client: string, trustForwarded: boolean): OutgoingHttpHeaders {
  const drop = hopByHop(inbound);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(inbound)) {
    // `expect: 100-continue` was answered here already (node's server does it).
    if (value === undefined || drop.has(name) || name === 'expect') continue;
    if (!trustForwarded && (name === 'forwarded' || name.startsWith('x-forwarded-'))) continue;
    out[name] = value;
  }
  const prior = trustForwarded ? inbound['x-forwarded-for'] : undefined;
  out['x-forwarded-for'] = prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${client}` : client;
  if (!trustForwarded || !inbound['x-forwarded-proto']) out['x-forwarded-proto'] = 'http';
  if ((!trustForwarded || !inbound['x-forwarded-host']) && inbound.host) out['x-forwarded-host'] = inbound.host;
  out['x-request-id'] = requestId;
  out.connection = 'close';
  return out;
}

export function responseHeaders(inbound: IncomingHttpHeaders): OutgoingHttpHeaders {
  const drop = hopByHop(inbound);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(inbound)) if (value !== undefined && !drop.has(name)) out[name] = value;
  return out;
}
