/**
 * RFC 8414 metadata assembled from parts contributed by each feature (registration, grants,
 * introspection, …). Array members are unioned so several features can add grant types; empty
 * arrays are omitted (META-1).
 */
export type MetadataPart = Readonly<Record<string, unknown>>;

export function mergeMetadata(issuer: string, parts: readonly MetadataPart[]): Record<string, unknown> {
  const out: Record<string, unknown> = { issuer };
  for (const part of parts) {
    for (const [key, value] of Object.entries(part)) {
      if (value === undefined) continue;
      const prev = out[key];
      if (Array.isArray(prev) && Array.isArray(value)) out[key] = [...new Set([...prev, ...value])];
      else if (prev !== undefined && JSON.stringify(prev) !== JSON.stringify(value)) {
        throw new Error(`metadata member ${key} is contributed twice with different values`);
      } else out[key] = value;
    }
  }
  for (const [key, value] of Object.entries(out)) {
    if (Array.isArray(value) && value.length === 0) delete out[key];
  }
  return out;
}
