import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENV_VARS, type VarSpec } from '@fpa/config';

const START = '<!-- env-table:start (npm run docs:env rewrites this table from libs/config/src/env-vars.ts) -->';
const END = '<!-- env-table:end -->';

/** The README's configuration table, from the one table of variables (ENV_VARS). */
export function envTable(): string {
  const rows = Object.entries(ENV_VARS as Record<string, VarSpec>).map(
    ([name, spec]) => `| \`${name}\` | ${spec.default === undefined ? '—' : `\`${spec.default}\``} | ${spec.required ?? ''} | ${spec.doc} |`,
  );
  return ['| Variable | Default | Required | Meaning |', '|---|---|---|---|', ...rows].join('\n');
}

/** The README with its table replaced (between the markers). */
export function withEnvTable(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${START} … ${END} markers`);
  return `${readme.slice(0, start + START.length)}\n${envTable()}\n${readme.slice(end)}`;
}

if (require.main === module) {
  const path = join(__dirname, '..', '..', '..', 'README.md');
  writeFileSync(path, withEnvTable(readFileSync(path, 'utf8')));
  console.log(`README.md: ${Object.keys(ENV_VARS).length} variables`);
}
