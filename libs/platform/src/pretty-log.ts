import type { DestinationStream } from 'pino';

/**
 * Readable log lines for a person at a terminal (issue 13 goal 4): the embedded default's start-up
 * banner is not buried under JSON. A pino destination, so it formats what pino has already
 * serialised: the serializers of logging.ts (no headers, no query string, no body) decide what
 * can appear here, exactly as they do for the JSON lines. Only used when stdout is a TTY outside
 * production (logging.ts); everything else stays one JSON object per line.
 *
 *   18:52:07.114 INFO  [Persistence] applied migrations: Initial1763800000000
 *   18:52:09.502 INFO  POST /token 200 12ms  req=3f2a…
 */

const LEVELS: Record<number, { name: string; color: string }> = {
  10: { name: 'TRACE', color: '90' },
  20: { name: 'DEBUG', color: '36' },
  30: { name: 'INFO', color: '32' },
  40: { name: 'WARN', color: '33' },
  50: { name: 'ERROR', color: '31' },
  60: { name: 'FATAL', color: '35' },
};

/** Members every line has (or that the line's shape already shows): not repeated as key=value. */
const SHOWN = new Set(['level', 'time', 'pid', 'hostname', 'app', 'msg', 'context', 'req', 'reqId', 'res', 'responseTime', 'err']);

export interface PrettyOptions {
  /** ANSI colours for the level (a colour terminal). */
  readonly colors: boolean;
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

function clock(time: unknown): string {
  const d = typeof time === 'number' || typeof time === 'string' ? new Date(time) : new Date();
  if (Number.isNaN(d.getTime())) return String(time);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function scalar(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

/** One JSON log line → one readable line (plus an error's stack, indented). A line that is not JSON passes unchanged. */
export function formatLogLine(line: string, options: PrettyOptions = { colors: false }): string {
  let entry: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return line.endsWith('\n') ? line : `${line}\n`;
    entry = parsed as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const level = LEVELS[Number(entry.level)] ?? { name: String(entry.level ?? 'LOG').toUpperCase(), color: '0' };
  const levelText = level.name.padEnd(5);
  const parts = [clock(entry.time), options.colors ? `\u001b[${level.color}m${levelText}\u001b[0m` : levelText];
  if (typeof entry.context === 'string') parts.push(`[${entry.context}]`);

  const req = entry.req as { id?: unknown; method?: unknown; path?: unknown } | undefined;
  const res = entry.res as { statusCode?: unknown } | undefined;
  if (req && res && typeof req.method === 'string') {
    // The completion line (request-logging.ts): the request, not "request completed".
    parts.push(`${req.method} ${String(req.path ?? '')} ${String(res.statusCode ?? '')}`);
    if (typeof entry.responseTime === 'number') parts.push(`${entry.responseTime}ms`);
  } else if (entry.msg !== undefined) {
    parts.push(typeof entry.msg === 'string' ? entry.msg : scalar(entry.msg));
  }

  const extras: string[] = [];
  // The request id: `req.id` on the completion line, `reqId` on a line logged through req.log.
  const requestId = req?.id ?? entry.reqId;
  if (requestId !== undefined) extras.push(`req=${scalar(requestId)}`);
  for (const [key, value] of Object.entries(entry)) {
    if (!SHOWN.has(key) && value !== undefined) extras.push(`${key}=${scalar(value)}`);
  }
  let text = parts.join(' ') + (extras.length > 0 ? `  ${extras.join(' ')}` : '');

  const err = entry.err as { type?: unknown; message?: unknown; stack?: unknown } | undefined;
  if (err && typeof err === 'object') {
    const stack = typeof err.stack === 'string' ? err.stack : `${String(err.type ?? 'Error')}: ${String(err.message ?? '')}`;
    text += `\n${stack.replace(/^/gm, '    ')}`;
  }
  return `${text}\n`;
}

/** A pino destination that writes readable lines to `out` (process.stdout when it is a terminal). */
export function prettyDestination(out: { write(chunk: string): unknown }, options: PrettyOptions): DestinationStream {
  return { write: (line: string) => void out.write(formatLogLine(line, options)) };
}
