import { SMTPServer } from 'smtp-server';

/**
 * A real SMTP server on loopback (no TLS, no AUTH) inside the bench process, standing in for the
 * mail relay the challenge process sends its one-time codes to. It keeps no messages: it pulls the
 * code out of each one and hands it to whoever waits for that recipient.
 */
export interface CodeSink {
  readonly url: string;
  /** Messages accepted so far (including ones nobody waited for). */
  readonly received: number;
  /** Messages whose text held no code. */
  readonly unparsable: number;
  /** The code in the next message to `to` (already received, or arriving within `timeoutMs`). */
  code(to: string, timeoutMs: number): Promise<string>;
  /** Drops codes nobody collected (after a failed round). */
  forget(to: string): void;
  close(): Promise<void>;
}

/** The code in the challenge process's email text (`Your sign-in code is 123456. …`), quoted-printable or not. */
export function extractCode(raw: string): string | undefined {
  const m = /code is (\d{4,10})/.exec(raw.replace(/=\r?\n/g, ''));
  return m?.[1];
}

export async function startCodeSink(): Promise<CodeSink> {
  const ready = new Map<string, string[]>();
  const waiters = new Map<string, (code: string) => void>();
  let received = 0;
  let unparsable = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    // Every connection comes from the challenge process's pool; no reverse DNS look-ups.
    disableReverseLookup: true,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received++;
        const code = extractCode(Buffer.concat(chunks).toString('utf8'));
        if (code === undefined) unparsable++;
        else {
          for (const r of session.envelope.rcptTo) {
            const to = r.address.toLowerCase();
            const waiter = waiters.get(to);
            if (waiter) {
              waiters.delete(to);
              waiter(code);
            } else {
              const list = ready.get(to);
              if (list) list.push(code);
              else ready.set(to, [code]);
            }
          }
        }
        // Answered only now: the sender's sendMail() resolves after the code is in the map.
        callback();
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as { port: number }).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    get received() {
      return received;
    },
    get unparsable() {
      return unparsable;
    },
    code(to, timeoutMs) {
      const list = ready.get(to);
      if (list && list.length > 0) {
        const code = list.shift()!;
        if (list.length === 0) ready.delete(to);
        return Promise.resolve(code);
      }
      if (waiters.has(to)) return Promise.reject(new Error(`two waiters for ${to}`));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(to);
          reject(new Error(`no email to ${to} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.set(to, (code) => {
          clearTimeout(timer);
          resolve(code);
        });
      });
    },
    forget(to) {
      ready.delete(to);
      waiters.delete(to);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
