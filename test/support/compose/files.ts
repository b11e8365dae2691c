import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The files the docker deployment checks read, and how a test asserts that a check found nothing. */

export const ROOT = join(__dirname, '..', '..', '..');
export const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

export const COMPOSE_FILE = 'docker-compose.yml';
export const ENV_EXAMPLE = 'deploy/compose.env.example';
export const NGINX_CONF = 'deploy/nginx/nginx.conf';

export function check(problems: string[]): void {
  expect(problems).toEqual([]);
}
