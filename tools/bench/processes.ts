import { readFileSync, writeFileSync } from 'node:fs';

/** CPU time and memory of the app processes (and the stores' processes), from /proc. */

export interface ProcessSample {
  /** Peak resident set size since start (or since the last resetPeak), bytes. */
  readonly peakRssBytes: number;
  readonly rssBytes: number;
  /** User + system CPU time consumed so far, ms. */
  readonly cpuMs: number;
}

const CLOCK_TICKS = 100; // USER_HZ; 100 on every Linux the suite runs on (getconf CLK_TCK)

/** Reads /proc/<pid>/status (VmHWM, VmRSS) and /proc/<pid>/stat (utime, stime). Linux only. */
export function sampleProcess(pid: number): ProcessSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at "state" (field 3).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime (14), stime (15)
    return { peakRssBytes: kb('VmHWM'), rssBytes: kb('VmRSS'), cpuMs: (ticks * 1000) / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}

/** Resets VmHWM to the current RSS (`echo 5 > /proc/<pid>/clear_refs`), so the next sample's peak is per phase. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}
