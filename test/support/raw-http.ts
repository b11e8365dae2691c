import { connect } from 'node:net';

export interface RawAnswer {
  /** Everything the server sent before it closed (or before `timeoutMs`). */
  readonly raw: string;
  readonly status: number | undefined;
  readonly headers: Record<string, string>;
  readonly body: string;
  /** The server closed the connection (FIN) rather than resetting it. */
  readonly closedCleanly: boolean;
}

/**
 * Sends bytes over a plain TCP connection and reads until the server closes: for requests no
 * HTTP client would send (oversized headers, malformed request lines, broken chunking).
 */
export function rawExchange(url: string, request: string | Buffer, timeoutMs = 5000): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    let reset = false;
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') reset = true;
      else reject(e);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString('utf8');
      const [head, ...rest] = raw.split('\r\n\r\n');
      const [statusLine, ...headerLines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1];
      resolve({ raw, status: status ? Number(status) : undefined, headers, body: rest.join('\r\n\r\n'), closedCleanly: !reset });
    });
    socket.write(request);
  });
}
