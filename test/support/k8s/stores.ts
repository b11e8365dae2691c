import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { ENV_VARS } from '@fpa/config';
import { resolveEnv } from './environment';
import { asInt, autoscaler, isSuite, suiteContainer, type Manifests } from './manifests';

/** Stores: an in-cluster PostgreSQL has room for every pool; a managed one is reached over TLS by pinned images. */

/** PostgreSQL keeps superuser_reserved_connections (default 3) out of max_connections. */
const PG_RESERVED_CONNECTIONS = 3;

/** An in-cluster PostgreSQL accepts every pool at once: the HTTP apps at their autoscaler maximum plus surge, and the CLI jobs. */
export function checkDatabaseCapacity(m: Manifests): string[] {
  const pg = m.workloads.find((w) => w.containers.some((c) => /^postgres:/.test(c.image ?? '')));
  if (!pg) return [];
  const args = pg.containers.flatMap((c) => [...(c.command ?? []), ...(c.args ?? [])]).join(' ');
  const maxConnections = Number(/max_connections=(\d+)/.exec(args)?.[1] ?? 100);
  let total = 0;
  for (const w of m.workloads.filter(isSuite)) {
    const pool = Number(resolveEnv(m, w.ref, suiteContainer(w)!).env.DATABASE_POOL_SIZE ?? ENV_VARS.DATABASE_POOL_SIZE.default);
    const d = w.owner as unknown as IDeployment;
    const most = autoscaler(m, w)?.spec.maxReplicas ?? d.spec?.replicas ?? 1;
    const pods = w.owner.kind === 'Deployment' ? most + (asInt(d.spec?.strategy?.rollingUpdate?.maxSurge ?? '25%', most) ?? 0) : 1;
    total += pods * pool;
  }
  return total > maxConnections - PG_RESERVED_CONNECTIONS ? [`PostgreSQL max_connections ${maxConnections} is below the ${total} connections the pools may open`] : [];
}

/** Without an in-cluster PostgreSQL the database is a managed service: TLS to it, images pinned by digest. */
export function checkExternalStores(m: Manifests): string[] {
  const problems: string[] = [];
  if (m.workloads.some((w) => w.containers.some((c) => /^postgres:/.test(c.image ?? '')))) return problems;
  for (const w of m.workloads.filter(isSuite)) {
    const c = suiteContainer(w)!;
    const env = resolveEnv(m, w.ref, c).env;
    if (env.DATABASE_SSL !== 'true') problems.push(`${w.ref}: DATABASE_SSL must be true for a managed PostgreSQL`);
    if (!/@sha256:[0-9a-f]{64}$/.test(c.image ?? '')) problems.push(`${w.ref}: image ${c.image} must be pinned by digest`);
  }
  return problems;
}
