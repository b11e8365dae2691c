import { MetadataPolicyError } from '../chain/trust-chain-error';
import { arrayOperand, contains, intersection, isRecord, isSubset, union, type EntityMetadata, type MetadataPolicy } from './policy-values';

/**
 * OpenID Federation 1.0 §6.1.4.2: a merged policy applied to one entity's metadata, operator by
 * operator in the order value, add, default, one_of, subset_of, superset_of, essential. Policies for
 * an entity type the metadata does not have are ignored. A violation is a MetadataPolicyError.
 *
 * Where the text leaves room: `subset_of` keeps the intersection and removes the parameter when the
 * intersection is empty (then `essential` fails it, as it should).
 */
export function applyPolicy(metadata: EntityMetadata, policy: MetadataPolicy): EntityMetadata {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [type, params] of Object.entries(metadata)) {
    if (!isRecord(params)) throw new MetadataPolicyError(`metadata.${type} must be an object`);
    const result: Record<string, unknown> = { ...params };
    for (const [param, p] of Object.entries(policy[type] ?? {})) applyOperators(`${type}.${param}`, result, param, p);
    out[type] = result;
  }
  return out;
}

function applyOperators(where: string, m: Record<string, unknown>, param: string, p: Readonly<Record<string, unknown>>): void {
  const present = (): boolean => m[param] !== undefined;
  const current = (op: string): unknown[] => {
    if (!Array.isArray(m[param])) throw new MetadataPolicyError(`${where}: ${op} applies to an array, the metadata holds ${JSON.stringify(m[param])}`);
    return m[param] as unknown[];
  };
  if ('value' in p) {
    if (p.value === null) delete m[param];
    else m[param] = p.value;
  }
  if (p.add !== undefined) m[param] = present() ? union(current('add'), arrayOperand(where, 'add', p.add)) : [...arrayOperand(where, 'add', p.add)];
  if (p.default !== undefined && !present()) m[param] = p.default;
  if (p.one_of !== undefined && present() && !contains(arrayOperand(where, 'one_of', p.one_of), m[param])) {
    throw new MetadataPolicyError(`${where}: ${JSON.stringify(m[param])} is not one of ${JSON.stringify(p.one_of)}`);
  }
  if (p.subset_of !== undefined && present()) {
    const kept = intersection(current('subset_of'), arrayOperand(where, 'subset_of', p.subset_of));
    if (kept.length === 0) delete m[param];
    else m[param] = kept;
  }
  if (p.superset_of !== undefined && present() && !isSubset(arrayOperand(where, 'superset_of', p.superset_of), current('superset_of'))) {
    throw new MetadataPolicyError(`${where}: must hold every value of ${JSON.stringify(p.superset_of)}`);
  }
  if (p.essential === true && !present()) throw new MetadataPolicyError(`${where} is essential and missing`);
}
