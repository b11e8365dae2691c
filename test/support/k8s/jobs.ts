import type { ICronJob } from 'kubernetes-models/batch/v1/CronJob';
import { suiteContainer, type Manifests, type Workload } from './manifests';
import { keyOf } from './render';

/** Jobs: the migration Job and the CLI's CronJobs. */

/** The CLI's scheduled commands (the CronJobs): each must exist and never overlap itself. */
export const CLI_CRONJOBS: readonly (readonly string[])[] = [
  ['keys', 'rotate'],
  ['janitor'],
];

/** The migration Job and the CronJobs (key rotation, the janitor) run the CLI; no CronJob overlaps itself. */
export function checkJobs(m: Manifests): string[] {
  const problems: string[] = [];
  const cli = m.workloads.filter((w) => w.app === 'cli');
  const runs = (w: Workload, args: readonly string[]): boolean => {
    const c = suiteContainer(w)!;
    return [...(c.command ?? []), ...(c.args ?? [])].join(' ').endsWith(args.join(' '));
  };
  const migrate = cli.find((w) => keyOf(w.owner) === 'batch/v1/Job' && runs(w, ['migration', 'run']));
  if (!migrate) problems.push('no Job runs `migration run`');
  for (const args of CLI_CRONJOBS) {
    const job = cli.find((w) => keyOf(w.owner) === 'batch/v1/CronJob' && runs(w, args));
    if (!job) problems.push(`no CronJob runs \`${args.join(' ')}\``);
    else if ((job.owner as unknown as ICronJob).spec?.concurrencyPolicy !== 'Forbid') problems.push(`${job.ref}: concurrencyPolicy must be Forbid`);
  }
  for (const w of cli) if (!['Never', 'OnFailure'].includes(w.pod.restartPolicy ?? '')) problems.push(`${w.ref}: restartPolicy must be Never or OnFailure`);
  return problems;
}
