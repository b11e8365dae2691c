import { SMTPServer } from 'smtp-server';

export interface SmtpReceiver {
  /** SMTP_URL for the apps. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * A real SMTP server on loopback (no TLS, no AUTH, no reverse look-ups) for the tests, the benchmark
 * and the local suite. `onMessage` gets each message's raw text and recipients; the SMTP answer waits
 * for it, so the sender's sendMail() resolves only once the message was handled.
 */
export async function startSmtpReceiver(onMessage: (raw: string, recipients: readonly string[]) => void | Promise<void>): Promise<SmtpReceiver> {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    disableReverseLookup: true,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const recipients = session.envelope.rcptTo.map((r) => r.address);
        Promise.resolve(onMessage(Buffer.concat(chunks).toString('utf8'), recipients)).then(
          () => callback(),
          (e: Error) => callback(e),
        );
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as { port: number }).port;
  return { url: `smtp://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** The one-time code in a challenge email (`Your sign-in code is 123456. …`), quoted-printable or not. */
export function extractCode(raw: string): string | undefined {
  return /code is (\d{4,10})/.exec(raw.replace(/=\r?\n/g, ''))?.[1];
}
