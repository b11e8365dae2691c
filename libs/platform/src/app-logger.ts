import type { LoggerService } from '@nestjs/common';
import type { Level, Logger } from 'pino';

/** The root logger of the app created last in this process (test/support/log-capture.ts taps its stream). */
let latest: Logger | undefined;
export const latestRootLogger = (): Logger | undefined => latest;

/**
 * Nest's logger (`new Logger('Context').log(...)` anywhere, and Nest's own lines) over the app's
 * pino logger — the one the request lines and `req.log` use, so every line of a process goes to
 * one destination in one format. The same mapping nestjs-pino's Logger had: `verbose` is pino's
 * `trace`, `log` its `info`; the last extra argument is the context (`{"context": …}`); an object
 * message is merged into the line, an Error becomes `err`; Nest's exception handlers' `(message,
 * stack)` becomes an `err` with that stack.
 */
export class AppLogger implements LoggerService {
  constructor(readonly root: Logger) {
    latest = root;
  }

  verbose(message: unknown, ...optionalParams: unknown[]): void {
    this.call('trace', message, optionalParams);
  }
  debug(message: unknown, ...optionalParams: unknown[]): void {
    this.call('debug', message, optionalParams);
  }
  log(message: unknown, ...optionalParams: unknown[]): void {
    this.call('info', message, optionalParams);
  }
  warn(message: unknown, ...optionalParams: unknown[]): void {
    this.call('warn', message, optionalParams);
  }
  error(message: unknown, ...optionalParams: unknown[]): void {
    this.call('error', message, optionalParams);
  }
  fatal(message: unknown, ...optionalParams: unknown[]): void {
    this.call('fatal', message, optionalParams);
  }

  private call(level: Level, message: unknown, optionalParams: unknown[]): void {
    if (!this.root.isLevelEnabled(level)) return;
    const obj: Record<string, unknown> = {};
    let params = optionalParams;
    if (params.length > 0) {
      obj.context = params[params.length - 1];
      params = params.slice(0, -1);
    }
    const log = this.root[level] as (obj: object, msg?: unknown, ...args: unknown[]) => void;
    if (typeof message === 'object' && message !== null) {
      if (message instanceof Error) obj.err = message;
      else Object.assign(obj, message);
      log.call(this.root, obj, ...params);
    } else if (level === 'error' && typeof message === 'string' && params.length === 1 && typeof params[0] === 'string' && /\n\s*at /.test(params[0])) {
      const err = new Error(message);
      err.stack = params[0];
      obj.err = err;
      log.call(this.root, obj);
    } else {
      log.call(this.root, obj, message, ...params);
    }
  }
}
