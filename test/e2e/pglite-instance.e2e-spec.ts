import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { initDataDirInChild, isInitialised } from '@fpa/persistence';

/**
 * The embedded default's PGlite (issue 13 goal 4): initdb runs in a child process, this process opens the
 * initialised folder with the embedded settings. Real PGlite, so it lives with the process-spawning tests.
 */

// initdb in WebAssembly takes seconds on a shared machine.
jest.setTimeout(120_000);

let root: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'fpa-pglite-'));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/**
 * PGlite loads parts of itself with dynamic import(), which jest's VM refuses: the checks run in a Node
 * process of their own against the built module (dist/, as every process-spawning test), which prints
 * what it saw as one JSON line.
 */
const PGLITE_MODULE = join(process.cwd(), 'dist', 'libs', 'persistence', 'src', 'pglite-instance.js');

function inNode(script: string, dir: string): Promise<Record<string, unknown>> {
  const body = `const m = require(process.argv[1]); const dir = process.argv[2];\n(async () => {\n${script}\n})().then((r) => { console.log(JSON.stringify(r)); return m.closePglite(dir); }).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', body, PGLITE_MODULE, dir], { env: { PATH: process.env.PATH ?? '' } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>);
    });
  });
}

describe('pgliteInstance (in a Node process of its own)', () => {
  const dir = (): string => join(root, 'pgdata');

  it('initialises an empty folder in a child process, then opens it with shared_buffers=16MB and PostgreSQL booleans', async () => {
    expect(isInitialised(dir())).toBe(false);
    const seen = await inNode(
      `const before = m.isInitialised(dir);
       const db = await m.pgliteInstance(dir);
       const same = (await m.pgliteInstance(dir)) === db;
       const buffers = (await db.query('SHOW shared_buffers')).rows[0].shared_buffers;
       const bools = (await db.query('SELECT $1::boolean AS t, $2::boolean AS f', [true, false])).rows[0];
       await db.exec('CREATE TABLE kept (v text); INSERT INTO kept VALUES ($$still here$$)');
       return { before, after: m.isInitialised(dir), same, buffers, bools };`,
      dir(),
    );
    expect(seen).toEqual({ before: false, after: true, same: true, buffers: '16MB', bools: { t: true, f: false } });
    expect(isInitialised(dir())).toBe(true);
  });

  it('a warm start opens the same data (no initdb) and closePglite closes it', async () => {
    const seen = await inNode(
      `const db = await m.pgliteInstance(dir);
       const rows = (await db.query('SELECT v FROM kept')).rows;
       await m.closePglite(dir);
       const reopened = await m.pgliteInstance(dir);
       return { rows, closed: db.closed, fresh: reopened !== db, again: (await reopened.query('SELECT count(*)::int AS n FROM kept')).rows[0].n };`,
      dir(),
    );
    expect(seen).toEqual({ rows: [{ v: 'still here' }], closed: true, fresh: true, again: 1 });
  });
});

describe('initDataDirInChild', () => {
  it('fails with the child’s message when the folder cannot be created', async () => {
    const file = join(root, 'a-file');
    writeFileSync(file, 'not a folder');
    await expect(initDataDirInChild(join(file, 'pgdata'))).rejects.toThrow(/PGlite initdb in .*a-file\/pgdata failed/);
    expect(existsSync(join(file, 'pgdata'))).toBe(false);
  });
});
