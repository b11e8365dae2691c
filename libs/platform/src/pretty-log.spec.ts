import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { loadConfig, type AppConfig } from '@fpa/config';
import { MetricsRegistry } from './metrics.service';
import { createRootLogger, type LogOutput } from './logging';
import { formatLogLine } from './pretty-log';
import { observeRequest, type LoggedRequest, type RequestObserver } from './request-logging';

/** Issue 13 goal 4: readable lines at a terminal outside production, JSON lines everywhere else. */

class Capture implements LogOutput {
  readonly chunks: string[] = [];
  constructor(readonly isTTY: boolean) {}
  hasColors(): boolean {
    return false;
  }
  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return true;
  }
  get text(): string {
    return this.chunks.join('');
  }
}

const embedded = (): AppConfig => loadConfig('standalone', {});
const production = (): AppConfig =>
  loadConfig('token', {
    APP_MODE: 'production',
    ISSUER: 'https://auth.example.com',
    DATABASE_URL: 'postgres://db/x',
    REDIS_URL: 'redis://r',
    KEY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64url'),
    DPOP_NONCE_SECRET: Buffer.alloc(32, 1).toString('base64url'),
  });

/** What configureHttp gives every request, over the app's logger writing to `output`. */
function observer(config: AppConfig, output: Capture): RequestObserver {
  return { root: createRootLogger(config, output), duration: new MetricsRegistry().httpDuration };
}

async function serve(obs: RequestObserver, run: (port: number) => Promise<void>): Promise<void> {
  const server: Server = createServer((req: LoggedRequest, res) => {
    observeRequest(req, res, obs);
    req.log!.info('handling');
    res.statusCode = 200;
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await run((server.address() as AddressInfo).port);
  } finally {
    await new Promise((r) => server.close(r));
  }
}

const request = async (port: number): Promise<void> => {
  const res = await fetch(`http://127.0.0.1:${port}/token?code=query-secret`, {
    headers: { Authorization: 'DPoP header-secret', DPoP: 'proof-secret', Cookie: 'sid=cookie-secret', 'X-Request-Id': 'req-42' },
  });
  await res.text();
};

describe('log lines: readable at a terminal, JSON otherwise', () => {
  it('at a terminal in embedded mode, a request is one readable line with method, path, status and request id, and no secret', async () => {
    const out = new Capture(true);
    await serve(observer(embedded(), out), request);
    const lines = out.text.trimEnd().split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}handling {2}req=req-42$/),
        expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}GET \/token 200 \d+ms {2}req=req-42$/),
      ]),
    );
    for (const line of lines) expect(() => JSON.parse(line)).toThrow();
    // The serializers (no headers, no query string, no body) apply before formatting.
    expect(out.text).not.toMatch(/secret/);
  });

  it('stdout that is not a terminal keeps one JSON object per line, with the same redaction', async () => {
    const out = new Capture(false);
    await serve(observer(embedded(), out), request);
    const lines = out.text.trimEnd().split('\n');
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries).toEqual(expect.arrayContaining([expect.objectContaining({ req: { id: 'req-42', method: 'GET', path: '/token' }, res: { statusCode: 200 }, app: 'standalone' })]));
    expect(out.text).not.toMatch(/secret/);
  });

  it('production keeps JSON lines even at a terminal', async () => {
    const out = new Capture(true);
    await serve(observer(production(), out), request);
    for (const line of out.text.trimEnd().split('\n')) expect(JSON.parse(line)).toMatchObject({ app: 'token' });
  });
});

describe('formatLogLine', () => {
  const at = new Date(2026, 0, 2, 3, 4, 5, 6).getTime();

  it('shows a Nest line as time, level, [context] and message; other members as key=value', () => {
    const line = JSON.stringify({ level: 30, time: at, pid: 1, hostname: 'h', app: 'standalone', context: 'Persistence', msg: 'applied migrations: A1', ran: 2, note: 'two words' });
    expect(formatLogLine(line)).toBe('03:04:05.006 INFO  [Persistence] applied migrations: A1  ran=2 note="two words"\n');
  });

  it('prints an error with its stack on the following lines', () => {
    const line = JSON.stringify({ level: 50, time: at, msg: 'failed', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at x (y.js:1:1)' } });
    expect(formatLogLine(line)).toBe('03:04:05.006 ERROR failed\n    Error: boom\n        at x (y.js:1:1)\n');
  });

  it('colours the level only when asked', () => {
    const line = JSON.stringify({ level: 40, time: at, msg: 'careful' });
    expect(formatLogLine(line, { colors: true })).toBe('03:04:05.006 \u001b[33mWARN \u001b[0m careful\n');
  });

  it('passes a line that is not a JSON object through unchanged', () => {
    expect(formatLogLine('plain text')).toBe('plain text\n');
    expect(formatLogLine('[1,2]\n')).toBe('[1,2]\n');
  });

  it('is what pino writes through prettyDestination', () => {
    const out = new Capture(true);
    const root: Logger = createRootLogger(embedded(), out);
    root.warn({ context: 'Embedded' }, 'created the demo client demo-app');
    expect(out.text).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}\[Embedded\] created the demo client demo-app\n$/);
  });
});
