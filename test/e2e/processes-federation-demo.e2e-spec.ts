import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, runNode } from '@fpa/testing';

/**
 * The README's federation commands as real processes on the embedded default (issue 10):
 * `npm run start:federation-demo` (dist/tools/demo/federation-pair.js: two standalone suites on PGlite,
 * two data directories, AS1 federating to AS2) and `npm run demo:federation` against them, with and
 * without `--app` (redirect_to_app through AS2's own app).
 */
jest.setTimeout(120_000);

describe('the federation demo on the embedded default (two processes, two data directories)', () => {
  let pair: ChildProcess;
  let output = '';
  let dataDir: string;
  let as1: string;
  let as2: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'fpa-fed-demo-'));
    const [p1, p2] = [await freePort(), await freePort()];
    as1 = `http://localhost:${p1}`;
    as2 = `http://localhost:${p2}`;
    pair = spawn(process.execPath, [join('dist', 'tools', 'demo', 'federation-pair.js')], {
      env: { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, AS1_PORT: String(p1), AS2_PORT: String(p2) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const s of [pair.stdout!, pair.stderr!]) s.on('data', (d: Buffer) => (output += d.toString()));
    // Both first starts run PGlite's initdb and the migrations: wait until each answers ready.
    const deadline = Date.now() + 90_000;
    for (const issuer of [as2, as1]) {
      for (;;) {
        const ready = await fetch(`${issuer}/health/ready`).then((r) => r.status === 200, () => false);
        if (ready) break;
        if (Date.now() > deadline || pair.exitCode !== null) throw new Error(`${issuer} did not become ready:\n${output.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  });

  afterAll(async () => {
    if (pair && pair.exitCode === null) {
      const exited = new Promise((r) => pair.once('exit', r));
      pair.kill('SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('`npm run demo:federation`: bank → federate → e-mail code at AS2 → AS1’s token for the linked user with amr fed', async () => {
    const demo = await runNode(join('dist', 'tools', 'demo', 'federation-demo.js'), [], { AS1_ISSUER: as1, AS2_ISSUER: as2, DATA_DIR: dataDir }, { timeoutMs: 60_000 });
    expect(demo.output).toContain('400 insufficient_information');
    expect(demo.output).toContain('400 federate');
    expect(demo.output).toContain(`${as1}/federation/callback`);
    expect(demo.output).toMatch(/"amr": \[\s*"fed"/);
    expect(demo.output).toContain('Done:');
    expect(demo.code).toBe(0);
  });

  it('`npm run demo:federation -- --app`: redirect_to_app, AS2’s app completes it, the code comes back through native_callback_uri', async () => {
    const demo = await runNode(join('dist', 'tools', 'demo', 'federation-demo.js'), ['--app'], { AS1_ISSUER: as1, AS2_ISSUER: as2, DATA_DIR: dataDir, DEMO_EMAIL: 'app-user@bank-b.example' }, { timeoutMs: 60_000 });
    expect(demo.output).toContain('400 redirect_to_app');
    expect(demo.output).toContain('https://fed-app.example/native-callback?authorization_code=');
    expect(demo.output).toMatch(/"amr": \[\s*"fed"/);
    expect(demo.code).toBe(0);
  });

  it('stops both suites on SIGTERM', async () => {
    const exited = new Promise<number | null>((r) => pair.once('exit', (code) => r(code)));
    pair.kill('SIGTERM');
    await exited;
    expect(output).toMatch(/\[as1\] exited/);
    expect(output).toMatch(/\[as2\] exited/);
  });
});
