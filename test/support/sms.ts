import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The JSON body template the receiver understands (set SMS_PROVIDER_BODY to it). */
export const SMS_BODY = '{"recipient":"{{to}}","text":"{{message}}","sender":"FPA"}';

export interface CapturedSms {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** The parsed JSON body (undefined when it was not JSON). */
  readonly body: { recipient?: string; text?: string; sender?: string } | undefined;
  readonly raw: string;
}

/**
 * A real HTTP SMS provider on loopback: records each request's method, headers and JSON body and
 * answers 200 — or 500, or never (the adapter's timeout then fires), as the test sets `mode`.
 */
export interface SmsReceiver {
  readonly url: string;
  readonly requests: CapturedSms[];
  mode: 'ok' | 'fail' | 'hang';
  /** Requests whose body names `to` as recipient. */
  to(to: string): CapturedSms[];
  /** The one-time code in the newest message to `to`. */
  code(to: string): string;
  close(): Promise<void>;
}

export async function startSmsReceiver(): Promise<SmsReceiver> {
  const requests: CapturedSms[] = [];
  const receiver = { mode: 'ok' } as { mode: SmsReceiver['mode'] };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: CapturedSms['body'];
      try {
        body = JSON.parse(raw) as CapturedSms['body'];
      } catch {
        body = undefined;
      }
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, raw });
      if (receiver.mode === 'hang') return; // never answers; close() destroys the socket
      const status = receiver.mode === 'fail' ? 500 : 200;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(status === 200 ? { id: `msg-${requests.length}`, status: 'queued' } : { error: 'provider down' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  const to = (recipient: string): CapturedSms[] => requests.filter((r) => r.body?.recipient === recipient);
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${port}`,
    requests,
    to,
    code(recipient: string): string {
      const last = to(recipient).at(-1);
      const m = last?.body?.text ? /code is (\d{4,10})/.exec(last.body.text) : null;
      if (!m) throw new Error(`no SMS code to ${recipient} (${requests.length} requests recorded)`);
      return m[1];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

