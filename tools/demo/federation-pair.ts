import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { federationDemo } from './federation-setup';

/**
 * `npm run start:federation-demo`: two suites on the embedded default (PGlite + in-process store,
 * each in its own data directory), AS1 federating to AS2 — the seed 003 example with both roles
 * played by this suite. `npm run demo:federation` (tools/demo/federation-demo.ts) then runs the
 * federated login against them. Ctrl-C stops both.
 *   AS1_PORT / AS2_PORT   default 3000 / 3100 (ISSUER http://localhost:<port>)
 *   DATA_DIR              parent of as1/ and as2/ (default .data/federation)
 */
function main(): void {
  const dataDir = resolve(process.env.DATA_DIR ?? join('.data', 'federation'));
  const setup = federationDemo(`http://localhost:${process.env.AS1_PORT ?? 3000}`, `http://localhost:${process.env.AS2_PORT ?? 3100}`);
  const children: ChildProcess[] = [];
  for (const server of [setup.as2, setup.as1]) {
    const dir = join(dataDir, server.name);
    mkdirSync(dir, { recursive: true });
    const env: NodeJS.ProcessEnv = { ...process.env, APP_MODE: 'embedded', PORT: String(server.port), ISSUER: server.issuer, DATA_DIR: dir };
    // Each suite keeps its own embedded stores: URLs in the environment would make them share one.
    delete env.DATABASE_URL;
    delete env.REDIS_URL;
    for (const [name, content] of Object.entries(server.files)) {
      const path = join(dir, name);
      writeFileSync(path, `${JSON.stringify(content, null, 2)}\n`);
      env[server.fileVars[name]] = path;
    }
    const child = spawn(process.execPath, ['--max-semi-space-size=16', '--heap-growing-percent=30', 'dist/apps/standalone/src/main.js'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => console.log(`[${server.name}] ${line}`));
    }
    child.on('exit', (code, signal) => {
      console.log(`[${server.name}] exited (${signal ?? code})`);
      for (const other of children) if (other !== child && other.exitCode === null) other.kill('SIGTERM');
      process.exitCode = code ?? 1;
    });
    children.push(child);
    console.log(`[${server.name}] ${server.issuer} — data in ${dir}`);
  }
  console.log(`\nWhen both say they listen, run in another terminal:  npm run demo:federation   (or: npm run demo:federation -- --app)\n`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    });
  }
}

main();
