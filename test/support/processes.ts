import { runCli, type RunResult } from '@fpa/testing';

/** Helpers of the suites that run the built apps as real processes (processes*.e2e-spec.ts). */

/** The administration CLI with a suite's environment. */
export const cli = (env: Record<string, string>, ...args: string[]): Promise<RunResult> => runCli(args, env, { timeoutMs: 30_000 });

/** Waits until `predicate` holds (log lines are written asynchronously). */
export async function eventually(predicate: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}
