import { loadCompose } from '../support/compose/compose';
import { check } from '../support/compose/files';
import { checkIngress, parseNginx } from '../support/compose/nginx';

/**
 * The compose ingress (deploy/nginx/nginx.conf), parsed and held against CONTRACT §1: every public
 * path reaches its service, /metrics and /health/* stay internal. Needs no running service.
 */

describe('deploy/nginx/nginx.conf (the ingress)', () => {
  const conf = parseNginx();
  const compose = loadCompose();

  it('routes every CONTRACT §1 path to its service, and neither /metrics nor /health/*', () => {
    check(checkIngress(conf, compose));
  });

  it('is the file the ingress service mounts', () => {
    const volumes = (compose.services.ingress.volumes as string[]).map(String);
    expect(volumes).toContain('./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro');
  });
});
