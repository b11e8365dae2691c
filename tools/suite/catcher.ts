import { appendFile, mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { dirname } from 'node:path';
import { startSmtpReceiver } from '@fpa/testing';

/**
 * The suite's stand-in for a mail relay and an SMS provider: a local SMTP server (no TLS, no AUTH) and
 * an HTTP endpoint in the shape of SMS_PROVIDER_BODY's default (`{"to","message"}`), both on loopback.
 * Every message is appended to an outbox file in the embedded default's format
 * (`{"at","channel":"email"|"sms","to","subject"?,"text"}` per line), so `npm run demo` (OUTBOX_PATH)
 * reads the one-time code from it exactly as it does against `npm start`. The apps run in production
 * mode and really send: the challenge process speaks SMTP and HTTP to this.
 */
export interface MessageCatcher {
  /** SMTP_URL for the apps. */
  readonly smtpUrl: string;
  /** SMS_PROVIDER_URL for the apps. */
  readonly smsUrl: string;
  readonly outboxPath: string;
  close(): Promise<void>;
}

export async function startMessageCatcher(outboxPath: string): Promise<MessageCatcher> {
  await mkdir(dirname(outboxPath), { recursive: true, mode: 0o700 });
  // One write at a time, so lines never interleave.
  let queue = Promise.resolve();
  const write = (entry: Record<string, unknown>): Promise<void> =>
    (queue = queue.then(() => appendFile(outboxPath, `${JSON.stringify({ at: new Date().toISOString(), ...entry })}\n`, { mode: 0o600 })).catch(() => undefined));

  // Answered once written: the sender's sendMail() resolves after the code is in the file.
  const smtp = await startSmtpReceiver(async (raw, recipients) => {
    const { subject, text } = parseMail(raw);
    await Promise.all(recipients.map((address) => write({ channel: 'email', to: address, subject, text })));
  });

  const sms: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: { to?: unknown; message?: unknown } = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
      } catch {
        /* answered 400 below */
      }
      if (req.method !== 'POST' || typeof body.to !== 'string' || typeof body.message !== 'string') {
        res.writeHead(400).end();
        return;
      }
      void write({ channel: 'sms', to: body.to, text: body.message }).then(() => res.writeHead(202).end());
    });
  });
  await new Promise<void>((resolve) => sms.listen(0, '127.0.0.1', () => resolve()));
  const smsPort = (sms.address() as { port: number }).port;

  return {
    smtpUrl: smtp.url,
    smsUrl: `http://127.0.0.1:${smsPort}/sms`,
    outboxPath,
    async close() {
      await Promise.all([smtp.close(), new Promise<void>((resolve) => sms.close(() => resolve()))]);
      await queue;
    },
  };
}

/** Subject and plain text of a simple (single-part, text/plain) message as nodemailer writes it. */
export function parseMail(raw: string): { subject: string | undefined; text: string } {
  const split = raw.search(/\r?\n\r?\n/);
  const head = split >= 0 ? raw.slice(0, split) : raw;
  let body = split >= 0 ? raw.slice(split).replace(/^\r?\n\r?\n/, '') : '';
  const header = (name: string): string | undefined => new RegExp(`^${name}:[ \\t]*(.*(?:\\r?\\n[ \\t].*)*)`, 'im').exec(head)?.[1]?.replace(/\r?\n[ \t]/g, ' ').trim();
  const encoding = header('Content-Transfer-Encoding')?.toLowerCase();
  if (encoding === 'quoted-printable') {
    body = body.replace(/=\r?\n/g, '');
    body = Buffer.from(body.replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
  } else if (encoding === 'base64') {
    body = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  }
  return { subject: decodeWords(header('Subject')), text: body.replace(/\r\n/g, '\n').trimEnd() };
}

/** RFC 2047 encoded words (`=?UTF-8?Q?…?=`, `=?UTF-8?B?…?=`) in a header. */
function decodeWords(value: string | undefined): string | undefined {
  return value?.replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=\s*/g, (_m, _charset: string, enc: string, text: string) =>
    enc.toUpperCase() === 'B'
      ? Buffer.from(text, 'base64').toString('utf8')
      : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8'),
  );
}
