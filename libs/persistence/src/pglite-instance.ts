import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite, types } from '@electric-sql/pglite';

/**
 * The embedded default's one PGlite instance (issue 13 goal 4: idle under 400 MB, ready in under 3 s).
 *
 * Memory, measured with `npm run bench:embedded` (docs/benchmarks.md, "Embedded default"):
 * - PostgreSQL's shared_buffers default (128 MB) is touched at start-up inside the WASM heap, so it is
 *   resident from the first second. The embedded default holds a development-sized database; 16 MB
 *   (2,048 pages, PostgreSQL's own floor for a real server is 128 kB) keeps its working set cached and
 *   fits PGlite's fixed 128 MB initial WASM memory, so the heap never grows for buffers.
 * - A fresh DATA_DIR needs initdb, which PGlite runs in a second, throw-away PGlite plus initdb.wasm;
 *   their WASM memories (several hundred MB) stay reachable in the process afterwards. So initdb runs
 *   in a short-lived child process instead, and this process only ever opens an initialised folder.
 */
export const PGLITE_START_PARAMS: readonly string[] = [
  // PGlite's defaults (PGlite.defaultStartParams, @electric-sql/pglite 0.5) …
  '--single',
  '-F',
  '-O',
  '-j',
  '-c',
  'search_path=public',
  '-c',
  'exit_on_error=false',
  '-c',
  'log_checkpoints=false',
  '-c',
  'max_worker_processes=0',
  '-c',
  'max_parallel_workers=0',
  '-c',
  'max_parallel_workers_per_gather=0',
  '-c',
  'io_method=sync',
  '-c',
  'max_parallel_maintenance_workers=0',
  // … and the memory the embedded default needs.
  '-c',
  'shared_buffers=16MB',
];

/** TypeORM sends booleans as JS values; PGlite's text protocol wants TRUE/FALSE (as typeorm-pglite did). */
const serializeBoolean = (val: unknown): string => {
  if (val === true || val === 'true' || val === 1) return 'TRUE';
  if (val === false || val === 'false' || val === 0) return 'FALSE';
  return val as string;
};

/** True when `dir` holds an initialised PostgreSQL data folder (what PGlite itself checks). */
export function isInitialised(dir: string): boolean {
  return existsSync(join(dir, 'PG_VERSION'));
}

/**
 * Runs initdb for `dir` in a child Node process: PGlite.create on the empty folder, then close.
 * The child resolves PGlite from this module's own resolution, so it works from dist/ and from ts.
 */
export function initDataDirInChild(dir: string): Promise<void> {
  const script = [
    'const { PGlite } = require(process.argv[1]);',
    'PGlite.create({ dataDir: process.argv[2], startParams: JSON.parse(process.argv[3]) })',
    '  .then((db) => db.close())',
    '  .then(() => process.exit(0), (e) => { console.error(e && e.message ? e.message : String(e)); process.exit(1); });',
  ].join('\n');
  const args = ['-e', script, require.resolve('@electric-sql/pglite'), dir, JSON.stringify(PGLITE_START_PARAMS)];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { env: { PATH: process.env.PATH ?? '' }, maxBuffer: 16 * 1024 * 1024 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`PGlite initdb in ${dir} failed: ${stderr.trim() || err.message}`));
      else resolve();
    });
  });
}

const instances = new Map<string, Promise<PGlite>>();

/** The process's PGlite on `dir`, opened once (initdb first, in a child, when the folder is new). */
export function pgliteInstance(dir: string): Promise<PGlite> {
  let instance = instances.get(dir);
  if (!instance) {
    instance = (async () => {
      if (!isInitialised(dir)) await initDataDirInChild(dir);
      return PGlite.create({ dataDir: dir, startParams: [...PGLITE_START_PARAMS], serializers: { [types.BOOL]: serializeBoolean } });
    })();
    instance.catch(() => instances.delete(dir));
    instances.set(dir, instance);
  }
  return instance;
}

/** Closes the PGlite on `dir`, if one was opened; the next pgliteInstance(dir) opens it again. */
export async function closePglite(dir: string): Promise<void> {
  const instance = instances.get(dir);
  if (!instance) return;
  instances.delete(dir);
  const db = await instance.catch(() => undefined);
  if (db && !db.closed) await db.close();
}
