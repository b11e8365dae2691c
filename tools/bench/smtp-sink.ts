import { extractCode, startSmtpReceiver } from '@fpa/testing';

export { extractCode };

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

export async function startCodeSink(): Promise<CodeSink> {
  const ready = new Map<string, string[]>();
  const waiters = new Map<string, (code: string) => void>();
  let received = 0;
  let unparsable = 0;
  const receiver = await startSmtpReceiver((raw, recipients) => {
    received++;
    const code = extractCode(raw);
    if (code === undefined) {
      unparsable++;
      return;
    }
    for (const address of recipients) {
      const to = address.toLowerCase();
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
  });
  return {
    url: receiver.url,
    get received() {
      return received;
    },
    get unparsable() {
      return unparsable;
    },
    code(address, timeoutMs) {
      // Recipients are kept lower-cased (above).
      const to = address.toLowerCase();
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
    forget(address) {
      ready.delete(address.toLowerCase());
      waiters.delete(address.toLowerCase());
    },
    close: () => receiver.close(),
  };
}
