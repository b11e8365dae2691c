import { EventEmitter } from 'node:events';
import { closePglite, pgliteInstance } from './pglite-instance';

type Callback = (err: Error | null, result?: unknown) => void;

interface PgLikeResult {
  rows: unknown[];
  rowCount: number;
  command: string;
}

interface PGliteLike {
  query(sql: string, params?: unknown[]): Promise<{ rows: unknown[]; affectedRows?: number }>;
  exec(sql: string): Promise<{ rows: unknown[]; affectedRows?: number }[]>;
}

/** A FIFO mutex: PGlite is one session, so only one holder may use it at a time. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  acquire(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const ready = this.tail.then(() => release);
    this.tail = this.tail.then(() => next);
    return ready;
  }
}

/**
 * typeorm-pglite's pool hands every caller the same session, so two concurrent transactions would
 * interleave their statements. This pool gives the single PGlite session to one holder at a time
 * (a pool of size one, as a real pg pool with max=1 would) and shapes results like `pg`
 * (`rowCount`, `command`), so TypeORM and our raw queries behave the same on both drivers.
 * Embedded mode only.
 */
export class SerialPGlitePool extends EventEmitter {
  private static readonly mutex = new Mutex();

  constructor(private readonly dataDir: string) {
    super();
  }

  connect(callback?: (err: Error | null, client?: PGliteClient, release?: (err?: unknown) => void) => void): Promise<PGliteClient> | void {
    const run = async (): Promise<[PGliteClient, () => void]> => {
      const db = (await pgliteInstance(this.dataDir)) as unknown as PGliteLike;
      const unlock = await SerialPGlitePool.mutex.acquire();
      let released = false;
      const release = (): void => {
        if (!released) {
          released = true;
          unlock();
        }
      };
      return [new PGliteClient(db), release];
    };
    if (!callback) return run().then(([client]) => client);
    run().then(
      ([client, release]) => callback(null, client, release),
      (err: Error) => callback(err),
    );
  }

  query(sql: string, params?: unknown[] | Callback, cb?: Callback): Promise<PgLikeResult> {
    return (async () => {
      const db = (await pgliteInstance(this.dataDir)) as unknown as PGliteLike;
      const unlock = await SerialPGlitePool.mutex.acquire();
      try {
        return await new PGliteClient(db).query(sql, params, cb);
      } finally {
        unlock();
      }
    })();
  }

  end(callback?: (err?: Error | null) => void): void {
    closePglite(this.dataDir).then(
      () => callback?.(null),
      (err: Error) => callback?.(err),
    );
  }
}

export class PGliteClient extends EventEmitter {
  constructor(private readonly db: PGliteLike) {
    super();
  }

  query(sql: string, params?: unknown[] | Callback, cb?: Callback): Promise<PgLikeResult> {
    let callback = cb;
    let values = params;
    if (typeof params === 'function') {
      callback = params;
      values = undefined;
    }
    const p = this.run(sql, values as unknown[] | undefined);
    if (callback) {
      const done = callback;
      p.then(
        (r) => done(null, r),
        (e: Error) => done(e),
      );
    }
    return p;
  }

  private async run(sql: string, params: unknown[] | undefined): Promise<PgLikeResult> {
    const result =
      params && params.length > 0
        ? await this.db.query(sql, params)
        : ((await this.db.exec(sql)).at(-1) ?? { rows: [], affectedRows: 0 });
    const command = (/^\s*(\w+)/.exec(sql)?.[1] ?? '').toUpperCase();
    return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length, command };
  }
}

/** The `driver` for a TypeORM postgres DataSource backed by PGlite data in `dataDir` (pglite-instance.ts). */
export function pgliteDriver(dataDir: string): unknown {
  return {
    Pool: class extends SerialPGlitePool {
      constructor() {
        super(dataDir);
      }
    },
  };
}
