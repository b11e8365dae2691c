import { SUITE_SERVICES } from '../support/compose/compose';
import { checkDockerfileTarget, checkProductionDependencies, effective, isRootUser, parseDockerfile } from '../support/compose/dockerfile';
import { check, read } from '../support/compose/files';

/**
 * The Dockerfile, parsed without a Docker engine: every runtime target is non-root, in production
 * mode, with node as PID 1 and production dependencies only. Needs no running service.
 */

describe('Dockerfile', () => {
  const { stages } = parseDockerfile();

  it('is multi-stage: a build stage with every dependency, then runtime stages', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    const build = stages[0];
    expect(build.instructions.some((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args) && !/--omit/.test(i.args))).toBe(true);
    expect(build.instructions.some((i) => i.keyword === 'RUN' && /\bnpm run build\b/.test(i.args))).toBe(true);
  });

  it.each(Object.entries({ ...SUITE_SERVICES, standalone: 'standalone', 'sample-api': 'sample-api' } as Record<string, string>))(
    'target for %s: non-root, production mode, node as PID 1 (exec form, start-script flags), a node health check',
    (_service, app) => {
      check(checkDockerfileTarget(stages, app, app));
      check(checkProductionDependencies(stages, app));
    },
  );

  it('the final (default) stage is non-root too', () => {
    expect(isRootUser(effective(stages, stages[stages.length - 1].name).user)).toBe(false);
  });

  it('.dockerignore keeps local state, secrets and build output out of the context', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim());
    for (const entry of ['node_modules', 'dist', '.data', '.git', 'coverage', '*.log', '.env']) expect(ignored).toContain(entry);
  });
});
