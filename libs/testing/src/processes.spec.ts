import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appMain, ROOT, runNode } from './processes';

describe('process helpers', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-testing-'));
    writeFileSync(join(dir, 'exit.js'), "console.log(process.env.GREETING, process.argv[2], Object.keys(process.env).sort().join(',')); console.error('to stderr'); process.exit(3);");
    writeFileSync(join(dir, 'hang.js'), 'setInterval(() => undefined, 1000);');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the repository root and the built entry points under it', () => {
    expect(appMain('token')).toBe(join(ROOT, 'dist', 'apps', 'token', 'src', 'main.js'));
  });

  it('runs a script to its exit with only PATH and the given variables, collecting stdout and stderr', async () => {
    const res = await runNode(join(dir, 'exit.js'), ['arg'], { GREETING: 'hello' });
    expect(res.code).toBe(3);
    expect(res.output).toMatch(/^hello arg GREETING,PATH\n/);
    expect(res.output).toContain('to stderr');
  });

  it('kills a script that outlives its time limit, and says so', async () => {
    const res = await runNode(join(dir, 'hang.js'), [], {}, { timeoutMs: 300 });
    expect(res.code).toBeNull();
    expect(res.output).toContain('[killed after 300 ms]');
  });
});
