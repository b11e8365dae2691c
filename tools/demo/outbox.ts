import { readFile } from 'node:fs/promises';

/** The embedded default's outbox (DATA_DIR/outbox.jsonl): where the demos read one-time codes. */

/** Bytes already in the outbox (0 when it does not exist yet): only lines after them are this run's. */
export async function fileSize(path: string): Promise<number> {
  try {
    return (await readFile(path)).length;
  } catch {
    return 0;
  }
}

/** Reports every one-time code the embedded outbox receives after `start` (polled; the returned function stops it). */
export function watchOutbox(path: string, start: number, onCode: (to: string, code: string) => void): () => void {
  let offset = start;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    readFile(path)
      .then((buf) => {
        const end = buf.lastIndexOf(0x0a) + 1;
        if (end <= offset) return;
        for (const line of buf.subarray(offset, end).toString('utf8').split('\n').filter(Boolean)) {
          const m = JSON.parse(line) as { to?: string; text?: string };
          const code = m.text ? /code is (\d+)/.exec(m.text)?.[1] : undefined;
          if (code && m.to) onCode(m.to, code);
        }
        offset = end;
      })
      .catch(() => undefined)
      .finally(() => (busy = false));
  }, 300);
  return () => clearInterval(timer);
}

/** Polls the embedded outbox (JSON lines) for the newest email code to `to`, written after `start`. */
export async function codeFromOutbox(path: string, start: number, to: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let text = '';
    try {
      text = (await readFile(path)).subarray(start).toString('utf8');
    } catch {
      /* not written yet */
    }
    const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { channel?: string; to?: string; text?: string });
    const message = lines.reverse().find((m) => m.channel === 'email' && m.to === to);
    const code = message?.text ? /code is (\d+)/.exec(message.text)?.[1] : undefined;
    if (code) return code;
    if (Date.now() > deadline) {
      throw new Error(`no code for ${to} appeared in ${path} within ${timeoutMs / 1000} s — is the suite running on its embedded default (outbox)? Point OUTBOX_PATH at its DATA_DIR/outbox.jsonl.`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

export function indent(s: string): string {
  return s
    .split('\n')
    .map((l) => `   ${l}`)
    .join('\n');
}

