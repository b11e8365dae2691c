import * as http from 'node:http';
import * as https from 'node:https';
import { entityIdProblem } from '@fpa/config';
import { ENTITY_STATEMENT_MEDIA_TYPE } from './entity-statement';
import { addressAllowed, NON_PUBLIC_ADDRESS, publicOnlyLookup } from './public-address';
import { TrustChainError } from './trust-chain-error';

/** The port trust chain resolution fetches through: one GET, the compact JWS it answered. */
export interface EntityStatementSource {
  get(url: string, timeoutMs: number): Promise<string>;
}
export const ENTITY_STATEMENT_SOURCE = Symbol('ENTITY_STATEMENT_SOURCE');

export interface FetchLimits {
  readonly maxBytes: number;
  readonly allowHttpLoopback: boolean;
}

/**
 * Fetches entity configurations and subordinate statements (OpenID Federation 1.0 §9, §8.1) within
 * fixed limits, whatever the other side does: https only (loopback http when configured for tests),
 * one GET on a connection of its own, no redirect followed (the statement's URL is derived from the
 * entity id; a redirect would let another host answer for it), 200 with
 * `application/entity-statement+jwt`, at most `maxBytes` counted as the body streams in, everything
 * within `timeoutMs`, and only to public addresses (public-address.ts: no SSRF into the suite's own
 * network). Failures are TrustChainErrors; network trouble, 5xx and 429 are `unavailable`.
 */
export class HttpEntityStatementFetcher implements EntityStatementSource {
  constructor(private readonly limits: FetchLimits) {}

  get(url: string, timeoutMs: number): Promise<string> {
    const why = entityIdProblem(url.split('?')[0], this.limits.allowHttpLoopback);
    if (why) return Promise.reject(new TrustChainError('insecure_url', `${url} ${why}`));
    const target = new URL(url);
    const { maxBytes, allowHttpLoopback } = this.limits;
    if (isIpLiteral(target.hostname) && !addressAllowed(target.hostname, allowHttpLoopback)) {
      return Promise.reject(new TrustChainError('insecure_url', `${target.origin} is not a public address`));
    }
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (error: TrustChainError | undefined, body?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) {
          req.destroy();
          reject(error);
        } else resolve(body!);
      };
      const req = (target.protocol === 'https:' ? https : http).request(target, {
        method: 'GET',
        agent: false,
        lookup: publicOnlyLookup(allowHttpLoopback) as never,
        headers: { accept: ENTITY_STATEMENT_MEDIA_TYPE, 'user-agent': 'first-party-auth' },
      });
      const timer = setTimeout(() => finish(new TrustChainError('unavailable', `${target.origin} did not answer within ${timeoutMs} ms`)), Math.max(1, timeoutMs));
      req.on('error', (e: NodeJS.ErrnoException) =>
        finish(e.code === NON_PUBLIC_ADDRESS ? new TrustChainError('insecure_url', `${target.hostname} resolves to a non-public address`) : new TrustChainError('unavailable', `${target.origin} could not be reached`)),
      );
      req.on('response', (res) => {
        res.on('error', () => finish(new TrustChainError('unavailable', `${target.origin}: connection failed`)));
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400) return finish(new TrustChainError('redirect', `${url} answered with a redirect`));
        if (status === 404 || status === 410) return finish(new TrustChainError('not_found', `${url} answered ${status}`));
        if (status >= 500 || status === 429) return finish(new TrustChainError('unavailable', `${url} answered ${status}`));
        if (status !== 200) return finish(new TrustChainError('http_status', `${url} answered ${status}`));
        const type = String(res.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
        if (type !== ENTITY_STATEMENT_MEDIA_TYPE) return finish(new TrustChainError('content_type', `${url} must answer ${ENTITY_STATEMENT_MEDIA_TYPE}`));
        const tooLarge = (): void => finish(new TrustChainError('too_large', `${url} answered more than ${maxBytes} bytes`));
        if (Number(res.headers['content-length'] ?? 0) > maxBytes) return tooLarge();
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) tooLarge();
          else chunks.push(chunk);
        });
        res.on('end', () => finish(undefined, Buffer.concat(chunks).toString('ascii').trim()));
        res.on('close', () => finish(new TrustChainError('unavailable', `${target.origin}: connection was cut`)));
      });
      req.end();
    });
  }
}

function isIpLiteral(hostname: string): boolean {
  return hostname.startsWith('[') || /^\d+\.\d+\.\d+\.\d+$/.test(hostname);
}
