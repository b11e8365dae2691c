import { SMTPServer } from 'smtp-server';

export interface CapturedMail {
  readonly from: string;
  readonly to: readonly string[];
  readonly raw: string;
}

export interface SmtpSink {
  readonly url: string;
  readonly messages: CapturedMail[];
  /** Resolves with the next message to `to` (already received or arriving within `timeoutMs`). */
  next(to: string, timeoutMs?: number): Promise<CapturedMail>;
  /** The digits of the one-time code in the newest message to `to`. */
  code(to: string, timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

/** A real SMTP server on loopback (no TLS, no auth) that keeps every message it accepts. */
export async function startSmtpSink(): Promise<SmtpSink> {
  const messages: CapturedMail[] = [];
  const waiters: { to: string; resolve: (m: CapturedMail) => void }[] = [];
  const consumed = new Set<CapturedMail>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const mail: CapturedMail = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        };
        messages.push(mail);
        const i = waiters.findIndex((w) => mail.to.includes(w.to));
        if (i >= 0) {
          consumed.add(mail);
          waiters.splice(i, 1)[0].resolve(mail);
        }
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as { port: number }).port;
  const next = (to: string, timeoutMs = 5000): Promise<CapturedMail> => {
    const ready = messages.find((m) => m.to.includes(to) && !consumed.has(m));
    if (ready) {
      consumed.add(ready);
      return Promise.resolve(ready);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no email to ${to} within ${timeoutMs} ms`)), timeoutMs);
      waiters.push({ to, resolve: (m) => (clearTimeout(timer), resolve(m)) });
    });
  };
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    next,
    async code(to, timeoutMs) {
      const mail = await next(to, timeoutMs);
      const m = /code is (\d{4,10})/.exec(mail.raw.replace(/=\r?\n/g, ''));
      if (!m) throw new Error(`no code in the email to ${to}`);
      return m[1];
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
