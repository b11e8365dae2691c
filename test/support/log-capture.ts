import { symbols } from 'pino';
import { latestRootLogger } from '@fpa/platform';

/** One JSON log line the app wrote (pino's numeric levels: 40 warn, 50 error, 60 fatal). */
export interface LogLine {
  readonly level: number;
  readonly msg?: string;
  readonly [key: string]: unknown;
}

export interface LogCapture {
  /** Every line written since the capture began (or since `clear`). */
  readonly lines: LogLine[];
  /** Lines at `error` or above: an input must never produce one. */
  errors(): LogLine[];
  /** Lines whose `msg` matches. */
  matching(msg: RegExp): LogLine[];
  clear(): void;
  /** Writes reach stdout again. */
  restore(): void;
}

/**
 * Captures the in-process app's JSON logs (its root logger, which the request lines, `req.log` and
 * Nest's Logger share) instead of letting them reach stdout. Call after the app started (the app
 * created last in this process is the one captured). `passThrough` keeps printing.
 */
export function captureLogs(options: { passThrough?: boolean } = {}): LogCapture {
  const root = latestRootLogger() as unknown as Record<symbol, unknown> | undefined;
  if (!root) throw new Error('captureLogs: the app has not created its logger yet');
  const stream = root[symbols.streamSym] as { write: (chunk: string) => unknown };
  const original = stream.write;
  const lines: LogLine[] = [];
  stream.write = function write(this: unknown, chunk: string): unknown {
    for (const text of String(chunk).split('\n')) {
      if (!text) continue;
      try {
        lines.push(JSON.parse(text) as LogLine);
      } catch {
        lines.push({ level: 50, msg: `unparsable log line: ${text.slice(0, 200)}` });
      }
    }
    return options.passThrough ? original.call(stream, chunk) : true;
  };
  return {
    lines,
    errors: () => lines.filter((l) => l.level >= 50),
    matching: (msg) => lines.filter((l) => typeof l.msg === 'string' && msg.test(l.msg)),
    clear: () => void lines.splice(0, lines.length),
    restore: () => {
      stream.write = original;
    },
  };
}
