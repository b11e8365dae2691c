import pino from 'pino';
import { AppLogger, latestRootLogger } from './app-logger';

/** Nest's Logger over the app's pino logger (what nestjs-pino's Logger did, without its request context). */

function logger(level = 'info'): { app: AppLogger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const root = pino({ level, base: { app: 'token' } }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
  return { app: new AppLogger(root), lines };
}

describe('AppLogger', () => {
  it('maps Nest levels to pino levels and the last argument to the context', () => {
    const { app, lines } = logger('trace');
    app.log('listening', 'Bootstrap');
    app.verbose('detail', 'Keys');
    app.warn('careful');
    expect(lines).toEqual([
      expect.objectContaining({ level: 30, app: 'token', context: 'Bootstrap', msg: 'listening' }),
      expect.objectContaining({ level: 10, context: 'Keys', msg: 'detail' }),
      expect.objectContaining({ level: 40, msg: 'careful' }),
    ]);
    expect(lines[2]).not.toHaveProperty('context');
  });

  it('merges an object message, turns an Error into err, and Nest\'s (message, stack) into an err with that stack', () => {
    const { app, lines } = logger();
    app.log({ ran: 2 }, 'Persistence');
    app.error(new Error('boom'), 'Audit');
    app.error('unhandled', 'Error: x\n    at y (z.js:1:1)', 'ExceptionHandler');
    expect(lines[0]).toMatchObject({ ran: 2, context: 'Persistence' });
    expect(lines[1]).toMatchObject({ level: 50, context: 'Audit', err: { type: 'Error', message: 'boom' } });
    expect(lines[2]).toMatchObject({ level: 50, context: 'ExceptionHandler', err: { message: 'unhandled', stack: 'Error: x\n    at y (z.js:1:1)' } });
  });

  it('writes nothing below the level, and is the root a log capture taps', () => {
    const { app, lines } = logger('warn');
    app.log('quiet');
    app.debug('quieter');
    expect(lines).toEqual([]);
    expect(latestRootLogger()).toBe(app.root);
  });
});
