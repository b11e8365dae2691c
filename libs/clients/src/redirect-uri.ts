import type { Client } from './client.entity';

const LOOPBACK_IP = new Set(['127.0.0.1', '[::1]']);

/**
 * Whether `requested` is one of the client's registered redirect URIs (RFC 9700 §2.1, PAR-9):
 * exact string comparison — no patterns, no normalisation — with the one exception RFC 8252 §7.3
 * requires for native apps: a registered `http` loopback IP literal matches any port, since the
 * app listens on whichever port the OS gives it. `localhost` gets no such exception (RFC 8252
 * §8.3: it may resolve elsewhere).
 */
export function isRegisteredRedirectUri(client: Pick<Client, 'redirectUris'>, requested: string): boolean {
  if (client.redirectUris.includes(requested)) return true;
  const port = loopbackWithoutPort(requested);
  return port !== undefined && client.redirectUris.some((r) => loopbackWithoutPort(r) === port);
}

/** For an http loopback IP URI, the URI with its port removed; otherwise undefined. */
function loopbackWithoutPort(uri: string): string | undefined {
  const m = /^http:\/\/(127\.0\.0\.1|\[::1\])(?::(\d{1,5}))?(\/[^?#]*)?(\?[^#]*)?$/.exec(uri);
  if (!m || !LOOPBACK_IP.has(m[1])) return undefined;
  if (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535 || m[2].startsWith('0'))) return undefined;
  return `http://${m[1]}${m[3] ?? ''}${m[4] ?? ''}`;
}
