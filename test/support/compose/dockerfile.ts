import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { read, ROOT } from './files';

/** The Dockerfile: its stages, the image config a target ends up with, and the checks on each runtime target. */

export interface Instruction {
  readonly keyword: string;
  readonly args: string;
}
export interface Stage {
  readonly name: string;
  readonly from: string;
  readonly instructions: Instruction[];
}

export function parseDockerfile(text = read('Dockerfile')): { args: Record<string, string>; stages: Stage[] } {
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  const logical = text
    .replace(/\\\r?\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  for (const line of logical) {
    const m = /^(\S+)\s*(.*)$/.exec(line)!;
    const keyword = m[1].toUpperCase();
    const rest = m[2];
    if (keyword === 'FROM') {
      const f = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest)!;
      const from = f[1].replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_w, n: string) => args[n] ?? '');
      stages.push({ name: f[2] ?? String(stages.length), from, instructions: [] });
    } else if (stages.length === 0) {
      if (keyword === 'ARG') {
        const a = /^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/.exec(rest)!;
        args[a[1]] = a[2] ?? '';
      }
    } else {
      stages[stages.length - 1].instructions.push({ keyword, args: rest });
    }
  }
  return { args, stages };
}

/** A stage's instructions with those of the stages it is built FROM, base first. */
function chainOf(stages: Stage[], name: string): Instruction[] {
  const stage = stages.find((s) => s.name === name);
  if (!stage) return [];
  return [...chainOf(stages.slice(0, stages.indexOf(stage)), stage.from), ...stage.instructions];
}

export interface Effective {
  user: string | undefined;
  env: Record<string, string>;
  entrypoint: string[] | undefined;
  cmd: string[] | undefined;
  /** Exec form of ENTRYPOINT and CMD (a shell-form one would put /bin/sh at PID 1). */
  execForm: boolean;
  healthcheck: string | undefined;
}

/** The image config a target ends up with (ENTRYPOINT resets an inherited CMD, as Docker does). */
export function effective(stages: Stage[], target: string): Effective {
  const e: Effective = { user: undefined, env: {}, entrypoint: undefined, cmd: undefined, execForm: true, healthcheck: undefined };
  for (const i of chainOf(stages, target)) {
    const json = (): string[] | undefined => {
      try {
        const v = JSON.parse(i.args) as unknown;
        return Array.isArray(v) ? v.map(String) : undefined;
      } catch {
        return undefined;
      }
    };
    if (i.keyword === 'USER') e.user = i.args.trim();
    if (i.keyword === 'ENV') {
      const pairs = i.args.match(/[A-Za-z_][A-Za-z0-9_]*=("[^"]*"|'[^']*'|\S*)/g);
      if (pairs) for (const p of pairs) e.env[p.slice(0, p.indexOf('='))] = p.slice(p.indexOf('=') + 1).replace(/^["']|["']$/g, '');
      else {
        const [k, ...v] = i.args.split(/\s+/);
        e.env[k] = v.join(' ');
      }
    }
    if (i.keyword === 'ENTRYPOINT') {
      e.entrypoint = json();
      e.execForm = e.entrypoint !== undefined;
      e.cmd = undefined;
    }
    if (i.keyword === 'CMD') {
      e.cmd = json();
      if (e.cmd === undefined) e.execForm = false;
    }
    if (i.keyword === 'HEALTHCHECK') e.healthcheck = i.args;
  }
  return e;
}

/** The process a container of the target starts, as an argv. */
function processOf(e: Effective): string[] {
  return [...(e.entrypoint ?? []), ...(e.cmd ?? [])];
}

/** `node --max-semi-space-size=16 --heap-growing-percent=30 dist/apps/<app>/src/main.js`, read from package.json's start script. */
function startCommandOf(app: string): string[] {
  const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
  const script = scripts[`start:${app}`];
  const m = /(?:^|&&\s*)(node\s[^&]*)$/.exec(script ?? '');
  if (!m) throw new Error(`package.json has no start:${app} ending in a node command`);
  return m[1].trim().split(/\s+/);
}

const ROOT_USERS = ['', 'root', '0', 'root:root', '0:0'];
export function isRootUser(user: string | undefined): boolean {
  return user === undefined || ROOT_USERS.includes(user) || /^(root|0)(:|$)/.test(user);
}

export function checkDockerfileTarget(stages: Stage[], target: string, app: string): string[] {
  const problems: string[] = [];
  if (!stages.some((s) => s.name === target)) return [`Dockerfile has no target ${target}`];
  const e = effective(stages, target);
  const argv = processOf(e);
  if (isRootUser(e.user)) problems.push(`${target}: runs as root (USER ${e.user ?? 'unset'})`);
  if (e.env.NODE_ENV !== 'production') problems.push(`${target}: NODE_ENV is not production`);
  if (e.env.APP_MODE !== 'production') problems.push(`${target}: APP_MODE is not production`);
  if (!e.execForm) problems.push(`${target}: ENTRYPOINT/CMD in shell form (node would not be PID 1)`);
  if (argv[0] !== 'node') problems.push(`${target}: the process is not node: ${JSON.stringify(argv)}`);
  if (argv.some((a) => /^(npm|npx|yarn|pnpm|sh|bash|\/bin\/sh)$/.test(a) || /docker-entrypoint/.test(a))) problems.push(`${target}: starts through ${JSON.stringify(argv)}`);
  if (app === 'cli') {
    if (JSON.stringify(argv) !== JSON.stringify(['node', 'dist/apps/cli/src/main.js', 'migration', 'run'])) problems.push(`${target}: default process is ${JSON.stringify(argv)}`);
  } else {
    const expected = startCommandOf(app);
    if (JSON.stringify(argv) !== JSON.stringify(expected)) problems.push(`${target}: starts ${JSON.stringify(argv)}, the start script runs ${JSON.stringify(expected)}`);
    const hc = e.healthcheck ?? '';
    const cmd = /CMD\s+(\[.*\])\s*$/.exec(hc);
    const hcArgv = cmd ? (JSON.parse(cmd[1]) as string[]) : [];
    if (hcArgv[0] !== 'node' || !hcArgv.join(' ').includes('/health/live')) problems.push(`${target}: HEALTHCHECK must be exec-form node asking /health/live, got "${hc}"`);
    if (/curl|wget/.test(hc)) problems.push(`${target}: HEALTHCHECK uses a tool the image does not have`);
  }
  const mainTs = join(ROOT, 'apps', app, 'src', 'main.ts');
  if (!existsSync(mainTs)) problems.push(`${target}: apps/${app}/src/main.ts does not exist`);
  return problems;
}

/** node_modules of the image come from `npm ci --omit=dev`; no dev install, no copy of the build's. */
export function checkProductionDependencies(stages: Stage[], target: string): string[] {
  const problems: string[] = [];
  const chain = chainOf(stages, target);
  const copies = chain.filter((i) => i.keyword === 'COPY' && /node_modules/.test(i.args));
  if (copies.length === 0) problems.push(`${target}: no node_modules copied in`);
  for (const c of copies) {
    const from = /--from=(\S+)/.exec(c.args)?.[1];
    const source = from ? chainOf(stages, from) : [];
    const ok = source.some((i) => i.keyword === 'RUN' && /npm ci\b[^&;]*--omit=dev|npm prune\b[^&;]*--omit=dev/.test(i.args));
    if (!ok) problems.push(`${target}: node_modules come from ${from ?? 'the context'}, not a stage that ran npm ci --omit=dev`);
  }
  for (const i of chain.filter((x) => x.keyword === 'RUN')) {
    if (/\bnpm (ci|install|i)\b/.test(i.args) && !/--omit=dev/.test(i.args)) problems.push(`${target}: installs dev dependencies: RUN ${i.args}`);
  }
  if (chain.some((i) => i.keyword === 'COPY' && /^(--\S+\s+)*\.\s+\.?\/?\S*$/.test(i.args) && !/--from=/.test(i.args))) problems.push(`${target}: copies the whole context`);
  return problems;
}
