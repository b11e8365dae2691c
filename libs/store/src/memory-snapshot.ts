import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import type { StoreGeneration, StoredMarker } from './generation';

/**
 * The embedded default's in-process store across a clean restart: written when the process shuts
 * down (after the HTTP server stopped and in-flight requests finished), read and deleted by the
 * next start. A clean restart therefore loses nothing — claims, flags and the generation marker
 * carry over, and a replayed value is refused as a replay. A crash leaves no snapshot: the next
 * process starts empty, which is a loss like Redis restarting without persistence (a new
 * generation refuses what could have been accepted before). Deleting on load is what makes an
 * older snapshot impossible to load after a later crash.
 */
export interface MemorySnapshot {
  readonly marker: StoredMarker | undefined;
  readonly entries: readonly (readonly [string, string, number])[];
}

interface SnapshotFile {
  readonly version: 1;
  readonly marker: { readonly generation: StoreGeneration; readonly seqs: [string, number][] } | null;
  readonly entries: [string, string, number][];
}

/** The snapshot at `path`, removed from disk; undefined when there is none, or when it cannot be removed or read. */
export function takeSnapshot(path: string): MemorySnapshot | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
    unlinkSync(path);
  } catch {
    return undefined;
  }
  try {
    const file = JSON.parse(text) as SnapshotFile;
    if (file.version !== 1 || !Array.isArray(file.entries)) return undefined;
    return { marker: file.marker ? { generation: file.marker.generation, seqs: new Map(file.marker.seqs) } : undefined, entries: file.entries };
  } catch {
    return undefined;
  }
}

/** Written to a temporary file and renamed, owner-only (DATA_DIR also holds the keys). */
export function writeSnapshot(path: string, snapshot: MemorySnapshot): void {
  const file: SnapshotFile = {
    version: 1,
    marker: snapshot.marker ? { generation: snapshot.marker.generation, seqs: [...snapshot.marker.seqs] } : null,
    entries: snapshot.entries.map(([k, v, e]) => [k, v, e]),
  };
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(file), { mode: 0o600 });
  renameSync(tmp, path);
}
