export class FuzzArgsError extends Error {}

export interface FuzzArgs {
  /** Requests to send, over every endpoint. */
  readonly count: number;
  readonly seed: number | undefined;
  /** Report every distinct failure (default) rather than stop at the first. */
  readonly collect: boolean;
}

const MAX_COUNT = 10_000_000;

/** `<count> [--seed <n>] [--first]`. */
export function parseFuzzArgs(argv: readonly string[]): FuzzArgs {
  let count: number | undefined;
  let seed: number | undefined;
  let collect = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--first') collect = false;
    else if (a === '--seed') {
      const v = argv[++i];
      if (v === undefined || !/^\d{1,10}$/.test(v) || Number(v) >= 2 ** 31) throw new FuzzArgsError('--seed takes an integer below 2^31');
      seed = Number(v);
    } else if (/^\d+$/.test(a) && count === undefined) {
      count = Number(a);
    } else throw new FuzzArgsError(`unexpected argument ${JSON.stringify(a)}`);
  }
  if (count === undefined || count < 1 || count > MAX_COUNT) throw new FuzzArgsError(`give the number of requests (1 to ${MAX_COUNT})`);
  return { count, seed, collect };
}
