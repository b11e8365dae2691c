import { extractCode, startSmtpReceiver } from '@fpa/testing';

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
  const receiver = await startSmtpReceiver((raw, recipients) => {
    const mail: CapturedMail = { from: '', to: recipients, raw };
    messages.push(mail);
    const i = waiters.findIndex((w) => mail.to.includes(w.to));
    if (i >= 0) {
      consumed.add(mail);
      waiters.splice(i, 1)[0].resolve(mail);
    }
  });
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
    url: receiver.url,
    messages,
    next,
    async code(to, timeoutMs) {
      const code = extractCode((await next(to, timeoutMs)).raw);
      if (!code) throw new Error(`no code in the email to ${to}`);
      return code;
    },
    close: () => receiver.close(),
  };
}
